// Where the auth host is, as a browser on an env host must be sent there.

/** scheme://authHost[:port]: the port of the env URLs, else that of the request (same listener). */
export function authOrigin (scheme: string, authHost: string, publicPort: number | undefined, requestHost: string | undefined): string {
  const port = publicPort !== undefined ? String(publicPort) : portOf(requestHost)
  const standard = (scheme === 'https' && port === '443') || (scheme === 'http' && port === '80')
  return `${scheme}://${authHost}${port && !standard ? `:${port}` : ''}`
}

function portOf (host: string | undefined): string {
  if (!host) return ''
  const m = /:(\d+)$/.exec(host)
  return m && !host.endsWith(']') ? m[1] : ''
}
