// Writes schema/wakegate.schema.json from the config schema, for editor completion
// (yaml-language-server: $schema=…). `npm run schema`; a test checks it is current.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ConfigSchema } from '../src/config/load.js'

/** Fields with a default are optional to whoever writes the file. */
function relax (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(relax)
  if (!node || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) out[k] = relax(v)
  const props = out.properties as Record<string, { default?: unknown }> | undefined
  if (props && Array.isArray(out.required)) {
    out.required = (out.required as string[]).filter(name => props[name]?.default === undefined)
    if ((out.required as string[]).length === 0) delete out.required
  }
  return out
}

export function schemaJson (): string {
  return JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...relax(ConfigSchema) as object }, null, 2) + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL('../schema/wakegate.schema.json', import.meta.url))
  writeFileSync(out, schemaJson())
  process.stdout.write(`wrote ${out}\n`)
}
