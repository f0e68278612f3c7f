// The one configuration schema. It validates the YAML, fills defaults, and is exported as
// JSON Schema (schema/wakegate.schema.json) for editor completion.
import { Type, type Static } from '@sinclair/typebox'
import { DURATION_PATTERN } from './duration.js'
import { AppCostSchema, CostSection } from '../cost/schema.js'

const Duration = (description: string, def?: string) => Type.Union([
  Type.Integer({ minimum: 0 }),
  Type.String({ pattern: DURATION_PATTERN })
], { description: `${description} (milliseconds, or a string such as "30s", "15m")`, ...(def === undefined ? {} : { default: def }) })

const Port = Type.Integer({ minimum: 0, maximum: 65535 })

export const ListenTls = Type.Object({
  certFile: Type.String({ minLength: 1, description: 'PEM certificate for the env hosts (e.g. *.review.example.com), optionally followed by its intermediate chain; relative to the config file. Replaced files are picked up without a restart' }),
  keyFile: Type.String({ minLength: 1, description: "PEM private key of the certificate (not encrypted); relative to the config file" }),
  caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM intermediate certificates sent after the certificate, for a certFile that holds the leaf alone; relative to the config file' })),
  redirectPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'A plain-HTTP listener on this port (on listen.host) that answers every request with a 308 to the same URL over https; /__wakegate/healthz is answered there directly' })),
  hsts: Type.Optional(Type.Object({
    maxAge: Duration('How long browsers keep to https for the host', '180d'),
    includeSubDomains: Type.Boolean({ default: false, description: 'The policy covers every subdomain of the host too' }),
    preload: Type.Boolean({ default: false, description: 'Ask to be on the browsers\' preload list (needs includeSubDomains and maxAge of a year or more)' })
  }, { additionalProperties: false, description: 'Send Strict-Transport-Security on every response over TLS (off unless this is set; `hsts: {}` takes the defaults)' })),
  minVersion: Type.Union([Type.Literal('TLSv1.2'), Type.Literal('TLSv1.3')], { default: 'TLSv1.2', description: 'Oldest TLS version accepted' }),
  reloadInterval: Duration('How often the certificate files are read for a change, besides watching their directories (0: watching only)', '10s')
}, { additionalProperties: false, description: 'Serve the public listener over TLS (HTTP/1.1), for an install without a load balancer in front' })

export const Listen = Type.Object({
  host: Type.String({ default: '0.0.0.0', minLength: 1, description: 'Address of the public listener (env hosts, webhooks, sign-in); WAKEGATE_LISTEN_HOST overrides it' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'Port of the public listener (0: any free port)' }),
  tls: Type.Optional(ListenTls)
}, { additionalProperties: false, default: {} })

export const LocalBackend = Type.Object({
  kind: Type.Literal('local'),
  command: Type.String({ minLength: 1, description: 'Shell command that runs one environment; it must listen on $PORT.' }),
  cwd: Type.Optional(Type.String({ description: 'Working directory (relative to the config file).' })),
  stopGrace: Duration('Time between SIGTERM and SIGKILL when stopping', '5s'),
  logDir: Type.Optional(Type.String({ description: 'Where per-task output is written; defaults to a temp dir.' })),
  taskDir: Type.Optional(Type.String({ description: 'Where each running task is recorded (pid, port), so another gateway process on this machine can adopt it; with the redis store it defaults to a directory under the temp dir named after keyPrefix' }))
}, { additionalProperties: false })

const CapacityProvider = Type.Object({
  capacityProvider: Type.String({ minLength: 1, description: 'Capacity provider name (an Auto Scaling group provider, FARGATE or FARGATE_SPOT)' }),
  weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Relative share of tasks placed with this provider' })),
  base: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, description: 'Tasks placed with this provider before weights apply' }))
}, { additionalProperties: false })

export const EcsBackend = Type.Object({
  kind: Type.Literal('ecs'),
  cluster: Type.String({ minLength: 1, description: 'Cluster name or ARN the review tasks run on' }),
  taskDefinition: Type.String({ minLength: 1, description: 'family, family:revision or ARN' }),
  container: Type.String({ minLength: 1, description: "Name of the app's container in the task definition" }),
  region: Type.Optional(Type.String({ minLength: 1, description: 'AWS region (default: the provider chain: AWS_REGION, the profile, the task metadata)' })),
  endpoint: Type.Optional(Type.String({ description: 'ECS API endpoint override (tests, LocalStack)' })),
  ec2Endpoint: Type.Optional(Type.String({ description: 'EC2 API endpoint override' })),
  launchType: Type.Optional(Type.Union([Type.Literal('EC2'), Type.Literal('FARGATE'), Type.Literal('EXTERNAL')], { description: 'Launch type of RunTask (not with capacityProviderStrategy; neither: the cluster default strategy)' })),
  capacityProviderStrategy: Type.Optional(Type.Array(CapacityProvider, { minItems: 1, maxItems: 20, description: 'Capacity providers RunTask places tasks with, e.g. on-demand base + spot' })),
  platformVersion: Type.Optional(Type.String({ description: 'Fargate platform version (default LATEST)' })),
  networkConfiguration: Type.Optional(Type.Object({
    subnets: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 16, description: 'Subnet ids of the task ENIs' }),
    securityGroups: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 5, description: "Security groups of the task ENIs: they must let the gateway in on the app's port" })),
    assignPublicIp: Type.Optional(Type.Boolean({ description: 'Give each task a public IP (public subnets without NAT)' }))
  }, { additionalProperties: false, description: 'awsvpc network configuration (Fargate, or EC2 tasks with awsvpc networking)' })),
  image: Type.Optional(Type.String({ description: 'Per-SHA image template, e.g. 123.dkr.ecr.us-east-1.amazonaws.com/app:{sha}' })),
  startedBy: Type.String({ default: 'wakegate', maxLength: 36, minLength: 1, description: "RunTask's startedBy: reconcile treats every task with it as this gateway's, so give each deployment sharing a cluster its own" }),
  tags: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra tags on every task' })),
  pollInterval: Duration('How often waking tasks are described', '1s'),
  reconcileInterval: Duration('How often tasks are listed to notice tasks stopped outside wakegate', '60s'),
  maxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: 6, description: 'AWS SDK attempts per call (throttling and 5xx are retried with backoff)' }),
  prewarm: Type.Optional(Type.Object({
    enabled: Type.Boolean({ default: true, description: 'false keeps the settings but prewarms nothing' }),
    instances: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Container instances warmed per push at most: one task on each (distinctInstance), as many as ECS can place' }),
    command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['true'], description: "What the app's container runs instead of the app in a prewarm task (the ECS command override): it must exist in the image and exit at once; an image with an ENTRYPOINT gets it as arguments" }),
    timeout: Duration('A prewarm task still not running after this long is stopped', '10m')
  }, { additionalProperties: false, description: "Image prewarm (EC2 capacity; needs image): a push to an environment that is not running pulls the new SHA's image onto the cluster's container instances with short tasks of its revision running `command`, so its next wake skips the pull. Off unless set; `prewarm: {}` turns it on. Skipped on Fargate, which has no image cache" }))
}, { additionalProperties: false })

export const Backend = Type.Union([LocalBackend, EcsBackend])

export const MemoryStore = Type.Object({
  kind: Type.Literal('memory', { description: 'memory: one gateway process owns the lifecycle (use workers to use more cores)' })
}, { additionalProperties: false })

export const RedisStore = Type.Object({
  kind: Type.Literal('redis', { description: 'redis: several gateway replicas share envs through one Redis; one of them (the leader) runs the lifecycle' }),
  url: Type.String({ pattern: '^rediss?://', description: 'redis://[user:password@]host:port[/db], rediss:// for TLS; put the password in an env var (${WAKEGATE_REDIS_URL})' }),
  keyPrefix: Type.String({ default: 'wakegate:', minLength: 1, description: 'Prefix of every key and of the event channel; the replicas of one gateway share it' }),
  tls: Type.Optional(Type.Boolean({ description: 'TLS towards Redis (rediss:// turns it on too)' })),
  sentinels: Type.Optional(Type.Array(Type.Object({ host: Type.String({ minLength: 1, description: 'Sentinel host' }), port: Type.Integer({ minimum: 1, maximum: 65535, description: 'Sentinel port' }) }, { additionalProperties: false }), { minItems: 1, description: 'Redis Sentinel: the sentinels to ask for the primary (the url then gives only credentials and db)' })),
  sentinelName: Type.Optional(Type.String({ minLength: 1, description: 'Name of the Sentinel-monitored primary' })),
  leaseTtl: Duration('How long the leader lease lasts without renewal: a leader that dies is replaced after at most this', '5s'),
  resyncInterval: Duration('How often a replica asks the leader for every env again, to catch messages it missed', '30s'),
  advertiseHost: Type.Optional(Type.String({ minLength: 1, description: "Address other replicas reach this one's internal listener at (webhooks and pages are passed to the leader); default: listen.host, or when that is a wildcard this machine's first non-loopback IPv4 address" })),
  internalPort: Type.Integer({ minimum: 0, maximum: 65535, default: 0, description: 'Port of the internal listener the leader serves webhooks and gateway pages on for the other replicas (0: any free port)' })
}, { additionalProperties: false })

const KnownPr = Type.Object({
  number: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'PR number' }),
  branch: Type.String({ default: 'main', minLength: 1, description: 'Branch, given to the task as BRANCH' }),
  sha: Type.String({ default: '0000000', minLength: 1, description: 'Commit, given to the task as GIT_SHA' }),
  title: Type.Optional(Type.String({ description: 'Shown on the dashboard and the waking page' }))
}, { additionalProperties: false })

export const Health = Type.Object({
  path: Type.Optional(Type.String({ pattern: '^/', description: 'HTTP path probed; any answer < 500 counts as ready (default "/" unless tcp is set)' })),
  tcp: Type.Optional(Type.Boolean({ description: 'Probe with a TCP connect instead of HTTP' }))
  // No path in the default: TypeBox merges an object default into a given object, so
  // `{ tcp: true }` would become `{ path: '/', tcp: true }`. load.ts fills the path in.
}, { additionalProperties: false, default: {} })

const Permission = Type.Union(['read', 'triage', 'write', 'maintain', 'admin'].map(l => Type.Literal(l)))

/** Who may reach an app's environments. Every rule present is tried; any that matches lets the request in. */
export const AccessPolicy = Type.Object({
  public: Type.Optional(Type.Boolean({ description: 'Anybody who can reach wakegate may use these environments, on purpose (no warning)' })),
  ip: Type.Optional(Type.Array(Type.String({ minLength: 2 }), { minItems: 1, description: 'Client addresses or CIDRs let in, IPv4 or IPv6, e.g. 203.0.113.0/24, 2001:db8::/32' })),
  basic: Type.Optional(Type.Object({
    realm: Type.String({ default: 'wakegate', minLength: 1, pattern: '^[^"\\\\]*$', description: 'Realm named in WWW-Authenticate' }),
    users: Type.Record(Type.String({ pattern: '^[^:]+$' }), Type.String({ pattern: '^\\$(argon2(id|i|d)|2[abxy])\\$' }), { description: 'user → argon2 or bcrypt hash (`wakegate hash-password` prints one); use ${VAR} to keep hashes out of the file' })
  }, { additionalProperties: false, description: 'HTTP basic auth' })),
  github: Type.Optional(Type.Object({
    repo: Type.Boolean({ default: true, description: "Let in users who have at least `permission` on the app's repo" }),
    permission: Type.Union(Permission.anyOf, { default: 'read', description: 'Least permission on the repo (on a public repo everybody has read: use triage or orgs/teams)' }),
    orgs: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Members of these organisations are let in' })),
    teams: Type.Optional(Type.Array(Type.String({ pattern: '^[^/]+/[^/]+$' }), { description: 'Members of these teams (org/team-slug) are let in' })),
    users: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'These GitHub logins are let in' }))
  }, { additionalProperties: false, description: 'Sign in with GitHub (needs access.authHost, access.github and the top-level github section)' })),
  bypass: Type.Optional(Type.Object({
    secrets: Type.Array(Type.String({ minLength: 16 }), { minItems: 1, description: 'Accepted secrets; list the new one next to the old to rotate' }),
    header: Type.String({ default: 'x-wakegate-bypass', pattern: '^[A-Za-z0-9-]+$', description: 'Request header carrying the secret' }),
    query: Type.String({ default: 'wakegate-bypass', pattern: '^[A-Za-z0-9_.-]+$', description: 'Query parameter that sets a host-only cookie once and redirects without it' })
  }, { additionalProperties: false, description: 'A secret for CI jobs, end-to-end runners and uptime checks' })),
  actions: Type.Optional(Type.Object({
    audience: Type.String({ minLength: 1, description: 'The `aud` the workflow asks for (core.getIDToken(audience))' }),
    repositories: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$' }), { description: "Repositories whose workflows are let in (default: the app's repo)" })),
    refs: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Refs let in, * as a wildcard, e.g. refs/pull/*; default: any' }))
  }, { additionalProperties: false, description: 'GitHub Actions OIDC tokens (Authorization: Bearer), no stored secret' })),
  forwardCredentials: Type.Boolean({ default: false, description: "Pass wakegate's session cookie and the Authorization header it checked on to the app" })
}, { additionalProperties: false })

/** The access section: shared sign-in settings and the default policy of apps without one. */
export const Access = Type.Object({
  default: Type.Optional(AccessPolicy),
  trustedProxies: Type.Optional(Type.Union([
    Type.Integer({ minimum: 0, maximum: 32 }),
    Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })
  ], { description: 'Proxies in front of wakegate (an ALB) whose X-Forwarded-For entries are believed: a number of hops, or their addresses/CIDRs (loopback, linklocal, uniquelocal name ranges); without it the socket address is the client' })),
  authHost: Type.Optional(Type.String({ minLength: 3, description: 'The one fixed host for GitHub sign-in and the OAuth callback relay, e.g. auth.review.example.com' })),
  sessionKey: Type.Optional(Type.Union([Type.String({ minLength: 32 }), Type.Array(Type.String({ minLength: 32 }), { minItems: 1 })], { description: 'Key of the session cookies: 32 bytes as hex or base64 (set WAKEGATE_SESSION_KEY); a list rotates (the first signs, all verify)' })),
  sessionTtl: Duration('How long a sign-in lasts', '12h'),
  tokenTtl: Duration('How long the one-use token that hands a sign-in from the auth host to an env host is valid', '30s'),
  actionsIssuer: Type.String({ default: 'https://token.actions.githubusercontent.com', pattern: '^https?://', description: 'Issuer of GitHub Actions OIDC tokens (GitHub Enterprise Server: https://HOST/_services/token); its keys are read from <issuer>/.well-known/jwks' }),
  checkTtl: Duration("How long GitHub's answer on a user's access is cached (a revoked user loses access within this)", '5m'),
  github: Type.Optional(Type.Object({
    clientId: Type.String({ minLength: 1, description: 'Client id of the GitHub App (or OAuth app); set WAKEGATE_GITHUB_CLIENT_ID' }),
    clientSecret: Type.String({ minLength: 1, description: 'Set WAKEGATE_GITHUB_CLIENT_SECRET' }),
    clientType: Type.Union([Type.Literal('github-app'), Type.Literal('oauth-app')], { default: 'github-app', description: "github-app: the GitHub App's user authorization; oauth-app: an OAuth app" })
  }, { additionalProperties: false, description: 'OAuth credentials for sign-in with GitHub; the callback URL to register is https://<authHost>/__wakegate/auth/callback' }))
}, { additionalProperties: false, default: {} })

/** An app's OAuth callback relay (apps that sign users in through an OAuth provider). */
export const OauthRelay = Type.Object({
  providers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Hosts of the authorization endpoints the app may send users to, e.g. accounts.google.com, github.com' })
}, { additionalProperties: false })

/** Per-app GitHub policies (used when the top-level `github` section is set and the app has `repo`). */
export const AppGithub = Type.Object({
  warm: Type.Boolean({ default: false, description: 'Start the environment when the PR is opened or becomes eligible, before anyone asks' }),
  skipDrafts: Type.Boolean({ default: true, description: 'Draft PRs get no environment until ready for review' }),
  requireLabel: Type.Optional(Type.String({ minLength: 1, description: 'Only PRs carrying this label get an environment, e.g. review-app' })),
  allowForks: Type.Boolean({ default: false, description: 'PRs from forks get an environment (their code runs with the app\'s secrets)' }),
  allowAuthors: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Only PRs by these logins or members of these teams (org/team-slug)' })),
  maxRunning: Type.Optional(Type.Integer({ minimum: 1, description: 'Running environments of this app at most (with apps[].maxRunning too, the smaller applies): the oldest idle one is put to sleep, or a wake is refused (503) when none is idle' })),
  waitForCi: Type.Boolean({ default: false, description: "Start or redeploy only when the head SHA's check suites and commit statuses have succeeded" }),
  ttlDays: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'An environment with no request and no push for this many days is put to sleep and marked stale' })),
  deploymentEnvironment: Type.String({ default: 'pr-{pr}', minLength: 1, description: 'GitHub Deployment environment name; {pr} and {app} are substituted' }),
  tombstone: Duration('How long a closed PR\'s record is kept before it is forgotten', '7d'),
  comment: Type.Boolean({ default: true, description: 'Keep one comment on the PR with the environment\'s URL and state' }),
  deployments: Type.Boolean({ default: true, description: 'Create GitHub Deployments so the PR shows "View deployment"' })
}, { additionalProperties: false, default: {} })

/** The GitHub integration: webhooks, the known-PR gate, PR feedback. */
export const Github = Type.Object({
  auth: Type.Object({
    token: Type.Optional(Type.String({ minLength: 1, description: 'Personal access or installation token (set WAKEGATE_GITHUB_TOKEN)' })),
    appId: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]+$' })], { description: 'GitHub App id' })),
    privateKey: Type.Optional(Type.String({ minLength: 1, description: 'GitHub App private key, PEM (set WAKEGATE_GITHUB_PRIVATE_KEY)' })),
    privateKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'File holding the GitHub App private key (relative to the config file)' })),
    installationId: Type.Optional(Type.Integer({ minimum: 1, description: 'Installation id; found per repo when absent' }))
  }, { additionalProperties: false, description: 'Either token, or appId with privateKey or privateKeyFile' }),
  webhookSecret: Type.String({ minLength: 8, description: 'Secret the webhook payloads are signed with (set WAKEGATE_GITHUB_WEBHOOK_SECRET)' }),
  webhookPath: Type.String({ pattern: '^/', default: '/_wakegate/github', description: 'Path the webhook is served on (the webhook URL to register ends with it)' }),
  webhookHost: Type.Optional(Type.String({ minLength: 1, description: 'Host the webhook is served on, e.g. hooks.review.example.com (any non-env host when absent)' })),
  apiUrl: Type.String({ default: 'https://api.github.com', pattern: '^https?://', description: 'REST API base URL (GitHub Enterprise: https://HOST/api/v3)' }),
  deliveryTtl: Duration('How long webhook delivery ids are remembered to drop redeliveries', '72h'),
  knownPrTtl: Duration('How long answers of the known-PR lookup are cached', '5m'),
  feedbackDebounce: Duration('Quiet time before a PR comment is edited (fast events are folded into one edit)', '1s'),
  requestTimeout: Duration('Timeout of one GitHub API call', '10s'),
  retries: Type.Integer({ minimum: 0, maximum: 10, default: 3, description: 'Retries of a GitHub API call on 5xx, network errors and rate limits' }),
  maxRetryWait: Duration('Longest wait for a rate limit to reset before a call gives up', '60s'),
  prSweepInterval: Duration('How often (and once at boot) the open PRs of each repo are listed to destroy envs of PRs closed without a webhook; 0 turns the sweep off', '10m')
}, { additionalProperties: false })

/** Adaptive idle timeout per env, learned from the gaps between its visits. */
export const AdaptiveIdle = Type.Object({
  target: Type.Object({
    coldVisits: Type.Union([Type.Number(), Type.String()], { default: '5%', description: 'Share of visits that may find the environment asleep, as "5%" or 0.05 (0 to below 100%); gaps longer than max do not count' })
  }, { additionalProperties: false, default: {}, description: 'What the timeout is chosen for' }),
  min: Duration('Shortest idle timeout chosen', '5m'),
  max: Duration('Longest idle timeout chosen; a visit after a longer gap (a night, a weekend) is a cold wake under any timeout and is left out of the target. Every quiet spell that ends in such a gap costs up to max of running time', '1h'),
  visitGap: Duration('Activity after at least this long without any is a new visit (at most min)', '60s')
}, { additionalProperties: false, description: "Choose each environment's idle timeout from the gaps between its visits (the app's recent gaps weigh in for PRs with few): the shortest within min and max that keeps all but target.coldVisits of them warm. idleTimeout is the starting value until visits are seen" })

/** Office hours: outside them idle environments go to sleep and a short idle timeout applies. */
export const Schedule = Type.Object({
  timeZone: Type.String({ minLength: 1, description: 'IANA time zone the office hours are in, e.g. Europe/Berlin (daylight saving time is followed)' }),
  officeHours: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Ranges such as "Mon-Fri 08:00-19:00", "Sat,Sun 10:00-14:00", "09:00-17:00" (every day) or "Mon-Fri 22:00-06:00" (past midnight: ends the next day)' }),
  outsideIdleTimeout: Duration('Idle timeout outside office hours (the usual one when shorter); a late reviewer still wakes the environment', '5m')
}, { additionalProperties: false, description: 'Office hours: when they end, running environments nobody is using (no request in flight, no live stream, not kept awake) are put to sleep, and outside them outsideIdleTimeout applies' })

export const App = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'DNS-label-safe app name' }),
  host: Type.String({ minLength: 3, description: 'Host template with {pr} and optionally {app}, e.g. pr-{pr}.review.example.com' }),
  repo: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description: 'GitHub repository (owner/name) whose PRs get environments' })),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 3000, description: 'Port the app listens on inside its task' }),
  health: Health,
  env: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), { default: {}, description: 'Env vars for the task; {pr}, {branch}, {sha}, {app} are substituted' }),
  idleTimeout: Duration('Stop an environment after this long without activity', '15m'),
  streamQuietTimeout: Duration('An open WebSocket or event stream whose only traffic is heartbeats (pings, keep-alive messages) stops counting as activity after this', '10m'),
  idle: Type.Optional(AdaptiveIdle),
  schedule: Type.Optional(Schedule),
  holdTimeout: Duration('How long non-browser requests are held while waking', '60s'),
  startTimeout: Duration('Give up on a wake after this long', '5m'),
  failureBackoff: Duration('After a failed wake, wait this long before a request may retry', '30s'),
  drainTimeout: Duration('After a redeploy, how long WebSockets on the old task stay open before a 1012 close', '5m'),
  drainRequestTimeout: Duration('After drainTimeout, how much longer in-flight HTTP requests on the old task are waited for before it is stopped', '60s'),
  maxHeld: Type.Integer({ minimum: 1, default: 10000, description: 'Requests held per env while waking; beyond, 503 at once' }),
  prs: Type.Array(KnownPr, { default: [], description: 'PRs known without GitHub (local use)' }),
  anyPr: Type.Boolean({ default: false, description: 'Any PR number may wake (no known-PR gate); for local use only' }),
  github: AppGithub,
  warmup: Type.Optional(Type.Object({
    reviewRequested: Type.Boolean({ default: true, description: 'Start (or keep) the environment when a review is requested on the PR' }),
    pushVisitedWithin: Duration('Start (or keep) the environment on a push to the PR when somebody visited it within this long before; a PR nobody has visited is not started (0: pushes never warm)', '8h'),
    commentMention: Type.Boolean({ default: true, description: "Start (or keep) the environment when a PR comment by an owner, member or collaborator of the repo names its host or URL (the webhook must send issue_comment; wakegate's own comment never counts)" }),
    usedWithin: Duration('How long a warm-up keeps the environment awake; a visit within it counts the warm-up as used, none as wasted', '30m')
  }, { additionalProperties: false, description: 'Predictive warm-up from GitHub signals (needs the top-level github section and repo). Off unless set; `warmup: {}` turns every signal on with the defaults' })),
  access: Type.Optional(AccessPolicy),
  oauthRelay: Type.Optional(OauthRelay),
  maxRunning: Type.Optional(Type.Integer({ minimum: 1, description: 'Running environments of this app at most: the oldest idle one is put to sleep, or a wake is refused (503) when none is idle' })),
  cost: Type.Optional(AppCostSchema),
  backend: Backend
}, { additionalProperties: false })

export const Config = Type.Object({
  listen: Listen,
  public: Type.Object({
    scheme: Type.Union([Type.Literal('http'), Type.Literal('https')], { default: 'https', description: 'Scheme of env URLs shown to people (links, PR comments)' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Port in env URLs when not the scheme default' }))
  }, { additionalProperties: false, default: {} }),
  admin: Type.Object({
    host: Type.String({ default: '127.0.0.1', description: 'Address of the admin listener (dashboard, API, metrics); not loopback only with token or github' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 9090, description: 'Port of the admin listener' }),
    token: Type.Optional(Type.String({ minLength: 8, description: 'Bearer token for the admin listener; the listener must bind to loopback unless a token or github is set' })),
    github: Type.Optional(Type.Object({
      teams: Type.Optional(Type.Array(Type.String({ pattern: '^[^/]+/[^/]+$' }), { minItems: 1, description: 'Members of these teams (org/team-slug) may use the admin listener' })),
      users: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'These GitHub logins may use the admin listener' }))
    }, { additionalProperties: false, description: 'Sign in with GitHub for the dashboard and API, for these teams (org/team-slug) or users (needs access.authHost and access.github)' })),
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://', description: "The admin listener's URL as browsers reach it (GitHub sign-in returns there)" })),
    enabled: Type.Boolean({ default: true, description: 'false: no admin listener' })
  }, { additionalProperties: false, default: {} }),
  store: Type.Union([MemoryStore, RedisStore], { default: { kind: 'memory' } }),
  log: Type.Object({
    level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map(l => Type.Literal(l)), { default: 'info', description: 'Least severity logged (JSON lines on stdout)' })
  }, { additionalProperties: false, default: {} }),
  workers: Type.Integer({ minimum: 1, maximum: 256, default: 1, description: 'Processes serving the public listener (node:cluster); the primary owns the lifecycle, so a wake still starts one task. `wakegate serve --workers N` overrides it' }),
  proxy: Type.Object({
    noindex: Type.Boolean({ default: true, description: 'Add X-Robots-Tag: noindex to proxied responses' }),
    previewBots: Type.Array(Type.String({ minLength: 2 }), { default: [], description: 'Extra user-agent substrings that get the preview page instead of a wake' }),
    xForwarded: Type.Union([Type.Literal('append'), Type.Literal('replace')], { default: 'replace', description: 'append when wakegate sits behind a trusted load balancer' }),
    upstreamConnections: Type.Integer({ minimum: 1, default: 128, description: 'Connections per upstream for short exchanges; long-lived ones (event streams, slow uploads or downloads) do not take these slots' }),
    queueTimeout: Duration('How long a request may wait for one of upstreamConnections before a 503 with Retry-After', '30s'),
    headersTimeout: Duration('Time to wait for upstream response headers', '60s'),
    upstreamIdleTimeout: Duration('Time an upstream response (or a WebSocket handshake) may send nothing before it is aborted, like nginx proxy_read_timeout; never applies to open WebSockets', '60s'),
    clientHeaderTimeout: Duration('Time a client has to send a whole request head (408, like nginx client_header_timeout)', '60s'),
    clientBodyTimeout: Duration('Time a request body may send nothing before the request is given up (408 when no response started), like nginx client_body_timeout', '60s'),
    keepAliveTimeout: Duration('Time an idle client keep-alive connection is kept open', '65s'),
    shutdownGrace: Duration('Time in-flight requests get on shutdown', '10s')
  }, { additionalProperties: false, default: {} }),
  github: Type.Optional(Github),
  access: Access,
  limits: Type.Object({
    maxRunning: Type.Optional(Type.Integer({ minimum: 1, description: 'Running environments of all apps at most: the oldest idle one is put to sleep, or a wake is refused (503) when none is idle' })),
    wakesPerMinute: Type.Integer({ minimum: 0, default: 30, description: 'Wakes one client address may cause per minute (0: no limit); requests to running environments are not counted' }),
    wakeBurst: Type.Integer({ minimum: 1, default: 10, description: 'Wakes one client address may cause at once before wakesPerMinute applies' })
  }, { additionalProperties: false, default: {} }),
  cost: CostSection,
  apps: Type.Array(App, { minItems: 1 })
}, { additionalProperties: false, title: 'wakegate configuration' })

export type ConfigInput = Static<typeof Config>
export type AppInput = Static<typeof App>
export type LocalBackendConfig = Static<typeof LocalBackend>
export type EcsBackendConfig = Static<typeof EcsBackend>
export type BackendConfig = LocalBackendConfig | EcsBackendConfig
export type KnownPrConfig = Static<typeof KnownPr>
export type RedisStoreInput = Static<typeof RedisStore>
export type GithubInput = Static<typeof Github>
export type AppGithubInput = Static<typeof AppGithub>
export type AccessPolicyInput = Static<typeof AccessPolicy>
export type AccessInput = Static<typeof Access>
export type ListenTlsInput = Static<typeof ListenTls>
export { Port }
