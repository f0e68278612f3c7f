import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { schemaJson } from '../scripts/export-schema.js'
import { validateConfig } from '../src/config/load.js'
import { ROOT } from './support/harness.js'

t.test('schema/wakegate.schema.json is current (run `npm run schema` after changing the schema)', async t => {
  t.equal(readFileSync(join(ROOT, 'schema/wakegate.schema.json'), 'utf8'), schemaJson())
})

t.test('the example configs validate', async t => {
  const cfg = validateConfig(parse(readFileSync(join(ROOT, 'examples/wakegate.yaml'), 'utf8')), {}, join(ROOT, 'examples'))
  t.equal(cfg.apps[0].name, 'example')
  t.equal(cfg.apps[0].idleTimeout, 300_000, 'durations resolved to ms')
})
