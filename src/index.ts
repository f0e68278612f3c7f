// The package's public API, for embedding wakegate in a program of one's own: load and
// check a config, build the gateway (optionally with your own backends or store), listen,
// close; or run it as one replica of several on Redis. The `wakegate` command (cli.ts) is
// built on the same calls.
export { createWakegate, type Wakegate, type WakegateOptions } from './server.js'
export { loadConfigFile, parseConfigText, validateConfig, ConfigSchema, type ResolvedConfig, type AppConfig } from './config/load.js'
export type { Backend, TaskSpec, TaskRef, TaskStatus, TaskPhase } from './backends/backend.js'
export { BackendError } from './backends/backend.js'
export { createBackend } from './backends/index.js'
export type { Store, EnvRecord, StoredRecord, PutOptions, Lock, StoreEvent } from './stores/store.js'
export { StaleWriteError } from './stores/store.js'
export { MemoryStore } from './stores/memory.js'
export { RedisStore, type RedisStoreOptions } from './stores/redis.js'
export { startReplica, Replica, type ReplicaOptions } from './replicas/replica.js'
export { ConfigError, WakegateError, catalogue, type ErrorCode } from './errors.js'
