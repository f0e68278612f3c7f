// nginx as the reference proxy: one worker, proxy_pass to an upstream block with a
// keepalive pool, the same forwarding headers wakegate sets. Config, pid file, logs and temp
// dirs live in a temp dir; it runs in the foreground (`-g 'daemon off;'`).
// With `tls` it terminates TLS with that certificate and key (TLS 1.2 and 1.3, nginx's default
// ciphers, session cache and tickets) and proxies over plain HTTP to the same keepalive pool.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startCommand, type Server } from './proc.js'

export interface NginxTls {
  certFile: string
  keyFile: string
}

export async function startNginx (bin: string, upstreamPort: number, opts: { websocket?: boolean, tls?: NginxTls } = {}): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-nginx-'))
  const port = await freePort()
  const built = spawnSync(bin, ['-V'], { encoding: 'utf8' }).stderr ?? ''
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .filter(m => m === 'client_body' || m === 'proxy' || !built.includes(`--without-http_${m}_module`))
    .map(m => `  ${m}_temp_path ${join(dir, m)};`).join('\n')
  const root = process.getuid?.() === 0
  const conf = `${root ? 'user root;\n' : ''}worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
${temp}
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port}${opts.tls ? ' ssl' : ''};${opts.tls ? `
    ssl_certificate ${opts.tls.certFile};
    ssl_certificate_key ${opts.tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;` : ''}
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection ${opts.websocket ? '$connection_upgrade' : '""'};${opts.websocket ? '\n      proxy_set_header Upgrade $http_upgrade;\n      proxy_read_timeout 1h;' : ''}
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header Forwarded "for=$remote_addr;host=$http_host;proto=$scheme";
      add_header X-Robots-Tag "noindex, nofollow" always;
    }
  }
}
`
  writeFileSync(join(dir, 'nginx.conf'), conf)
  const server = await startCommand('nginx', bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], port)
  const stop = server.stop
  server.stop = async () => { await stop(); rmSync(dir, { recursive: true, force: true }) }
  return server
}
