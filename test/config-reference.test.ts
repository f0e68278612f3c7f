import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configReference } from '../scripts/config-reference.js'
import { ConfigSchema } from '../src/config/load.js'
import { ROOT } from './support/harness.js'

t.test('docs/configuration.md is generated from the schema (run `npm run docs:config` after changing it)', async t => {
  t.equal(readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8'), configReference())
})

t.test('every field of the schema has a row, with its default', async t => {
  const doc = configReference()
  const paths: string[] = []
  const walk = (node: any, path: string) => {
    for (const variant of node.anyOf ?? []) if (variant.properties?.kind) walk(variant, path)
    for (const [k, child] of Object.entries<any>(node.properties ?? {})) {
      const p = path ? `${path}.${k}` : k
      // A union told apart by `kind` is listed by its kind field, one row per variant.
      paths.push(child.anyOf?.every((v: any) => v.properties?.kind) ? `${p}.kind` : p)
      walk(child, p)
      if (child.type === 'array' && child.items?.properties) walk(child.items, `${p}[]`)
    }
  }
  walk(ConfigSchema, '')
  t.ok(paths.length > 100, `${paths.length} fields`)
  for (const p of paths) if (!/^[a-z]+$/.test(p) || p === 'workers') t.ok(doc.includes(`| \`${p}\``), p)
  t.match(doc, /\| `apps\[\]\.idleTimeout` \| duration \| `"15m"` \|/)
  t.match(doc, /\| `store\.kind` \| `"memory"` \| `"memory"` \|/)
  t.match(doc, /\| `apps\[\]\.backend\.cluster` \(required\) \| string \|/)
})
