// A fake of the GitHub Actions OIDC issuer (token.actions.githubusercontent.com, or GitHub
// Enterprise Server's https://HOST/_services/token) on a real HTTP server: its discovery
// document and JWKS, and the ID tokens a workflow gets from core.getIDToken(audience), signed
// RS256 with jose and carrying GitHub's claim set. Keys can be rotated; tokens can be minted
// expired, with a key the JWKS does not publish, another issuer or another algorithm.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { SignJWT, type JWK } from 'jose'

/** The claims a test cares about; every other GitHub claim gets a plausible default and any can be overridden. */
export interface ActionsClaims {
  /** owner/name */
  repository: string
  /** Default refs/heads/main. */
  ref?: string
  /** Default https://github.com/OWNER (GitHub's default audience). */
  aud?: string | string[]
  [claim: string]: unknown
}

export interface MintOptions {
  /** Lifetime in seconds from now (default 300); negative: expired that long ago. */
  expiresIn?: number
  /**
   * trusted (default): the current key of the JWKS. untrusted: a key the JWKS never publishes,
   * with the current trusted kid in the header (a forgery; `kid` changes that).
   */
  key?: 'trusted' | 'untrusted'
  /** The `kid` header (default: the signing key's). */
  kid?: string
  /** The `iss` claim (default: this issuer's url). */
  issuer?: string
  /**
   * Signing algorithm (default RS256). RS384/RS512/PS256/PS384/PS512: the same RSA key;
   * HS256/HS384/HS512: HMAC keyed with the public key's PEM (the algorithm-confusion attack);
   * none: an unsecured JWT with an empty signature.
   */
  alg?: string
}

interface Key { kid: string, privateKey: KeyObject, publicKey: KeyObject, jwk: JWK }

const CLAIMS_SUPPORTED = [
  'sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'sha', 'repository', 'repository_id', 'repository_owner', 'repository_owner_id',
  'enterprise', 'enterprise_id', 'run_id', 'run_number', 'run_attempt', 'actor', 'actor_id', 'workflow', 'workflow_ref', 'workflow_sha',
  'head_ref', 'base_ref', 'event_name', 'ref_type', 'ref_protected', 'environment', 'environment_node_id', 'job_workflow_ref',
  'job_workflow_sha', 'repository_visibility', 'runner_environment', 'issuer_scope'
]

function makeKey (): Key {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pub = publicKey.export({ format: 'jwk' }) as JWK
  // RFC 7638 thumbprint, as a stable key id.
  const kid = createHash('sha256').update(JSON.stringify({ e: pub.e, kty: pub.kty, n: pub.n })).digest('base64url')
  return { kid, privateKey, publicKey, jwk: { ...pub, kid, alg: 'RS256', use: 'sig' } }
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const digits = (n: number) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, '1')
/** A stable numeric id for a name (the same repo always has the same repository_id). */
const idOf = (name: string) => String(parseInt(createHash('sha256').update(name.toLowerCase()).digest('hex').slice(0, 7), 16) + 1000)

export class FakeActionsIssuer {
  /** The issuer URL: http://127.0.0.1:PORT plus the base path, if any. */
  url = ''
  /** GET <issuer>/.well-known/jwks requests served (faults included). */
  jwksFetches = 0
  /** GET <issuer>/.well-known/openid-configuration requests served (faults included). */
  configFetches = 0
  /** Keys the JWKS publishes, oldest first; the last one signs. */
  readonly keys: Key[] = [makeKey()]
  private readonly untrusted = makeKey()
  private faults: Array<{ path: RegExp, status: number, times: number }> = []
  private server: Server | undefined
  private readonly basePath: string

  /** basePath: e.g. '/_services/token', GitHub Enterprise Server's issuer path. */
  constructor (opts: { basePath?: string } = {}) {
    this.basePath = (opts.basePath ?? '').replace(/\/$/, '')
  }

  async start (): Promise<this> {
    this.server = createServer((req, res) => { this.serve(req, res) })
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.basePath}`
    return this
  }

  async close (): Promise<void> {
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server!.close(() => resolve()))
  }

  /** The kid tokens are signed with now. */
  get kid (): string { return this.keys[this.keys.length - 1].kid }

  /** Publishes a new key and signs with it from now on; dropOld: the older keys leave the JWKS. Returns the new kid. */
  rotateKey (opts: { dropOld?: boolean } = {}): string {
    if (opts.dropOld) this.keys.splice(0)
    this.keys.push(makeKey())
    return this.kid
  }

  /** The next `times` requests whose path (below the issuer) matches answer `status`. */
  fail (path: RegExp, opts: { status: number, times?: number }): void {
    this.faults.push({ path, status: opts.status, times: opts.times ?? 1 })
  }

  clearFaults (): void { this.faults = [] }

  /** The claims a workflow run's token would carry (before signing). */
  claims (c: ActionsClaims, opts: MintOptions = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000)
    const expiresIn = opts.expiresIn ?? 300
    const exp = now + expiresIn
    const iat = expiresIn >= 0 ? now : exp - 300
    const repository = c.repository
    const owner = repository.split('/')[0]
    const ref = c.ref ?? 'refs/heads/main'
    const sha = randomBytes(20).toString('hex')
    const event = String(c.event_name ?? 'push')
    const environment = typeof c.environment === 'string' ? c.environment : undefined
    const sub = environment ? `repo:${repository}:environment:${environment}` : event === 'pull_request' ? `repo:${repository}:pull_request` : `repo:${repository}:ref:${ref}`
    const workflowRef = `${repository}/.github/workflows/preview.yml@${ref}`
    return {
      jti: randomUUID(),
      sub,
      aud: `https://github.com/${owner}`,
      ref,
      sha,
      repository,
      repository_owner: owner,
      repository_owner_id: idOf(owner),
      repository_id: idOf(repository),
      repository_visibility: 'private',
      run_id: digits(10),
      run_number: '7',
      run_attempt: '1',
      runner_environment: 'github-hosted',
      actor: 'octocat',
      actor_id: '583231',
      workflow: 'Preview',
      workflow_ref: workflowRef,
      workflow_sha: sha,
      head_ref: '',
      base_ref: '',
      event_name: event,
      ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
      ref_protected: 'false',
      job_workflow_ref: workflowRef,
      job_workflow_sha: sha,
      iss: opts.issuer ?? this.url,
      nbf: iat - 5,
      exp,
      iat,
      ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined))
    }
  }

  /** A compact JWT as core.getIDToken(aud) gets it in a workflow run of `repository` at `ref`. */
  async mint (c: ActionsClaims, opts: MintOptions = {}): Promise<string> {
    const payload = this.claims(c, opts)
    const key = opts.key === 'untrusted' ? this.untrusted : this.keys[this.keys.length - 1]
    const alg = opts.alg ?? 'RS256'
    const kid = opts.kid ?? (opts.key === 'untrusted' ? this.kid : key.kid)
    const header = { typ: 'JWT', alg, x5t: kid.slice(0, 27), kid }
    if (alg === 'none') return `${b64(header)}.${b64(payload)}.`
    if (/^HS(256|384|512)$/.test(alg)) {
      const input = `${b64(header)}.${b64(payload)}`
      const pem = key.publicKey.export({ format: 'pem', type: 'spki' })
      return `${input}.${createHmac(`sha${alg.slice(2)}`, pem).update(input).digest('base64url')}`
    }
    return await new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey)
  }

  private serve (req: IncomingMessage, res: ServerResponse): void {
    req.resume()
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=3600' })
      res.end(JSON.stringify(body))
    }
    const local = path.startsWith(this.basePath) ? path.slice(this.basePath.length) : path
    if (local === '/.well-known/jwks') this.jwksFetches++
    if (local === '/.well-known/openid-configuration') this.configFetches++
    const fault = this.faults.find(f => f.path.test(local))
    if (fault) {
      if (--fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1)
      send(fault.status, { message: `fake error ${fault.status}` })
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(405, { message: 'Method Not Allowed' }); return }
    if (local === '/.well-known/openid-configuration') {
      send(200, {
        issuer: this.url,
        jwks_uri: `${this.url}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: CLAIMS_SUPPORTED,
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid']
      })
      return
    }
    if (local === '/.well-known/jwks') {
      send(200, { keys: this.keys.map(k => k.jwk) })
      return
    }
    send(404, { message: 'Not Found' })
  }
}
