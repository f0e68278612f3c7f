// `npm run synth`: writes the CloudFormation template to deploy/wakegate.template.json, after
// CDK's template validation; a finding not acknowledged in stack.ts fails it (exit 1).
// Run by the CDK CLI (`cdk deploy --app "npx tsx deploy/synth.ts"`), the cloud assembly the
// CLI asked for (CDK_OUTDIR) is left for it; otherwise the temporary one is removed.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildStack, synthesize, TEMPLATE_FILE } from './stack.js'

interface Report { pluginReports?: Array<{ pluginName: string, violations: Array<{ ruleName: string, description: string }> }> }

const started = performance.now()
const { app, stack } = buildStack()
const { directory, text } = synthesize(app, stack)
writeFileSync(TEMPLATE_FILE, text)
process.stderr.write(`wrote ${fileURLToPath(TEMPLATE_FILE)} (${text.length} bytes, ${Math.round(performance.now() - started)} ms)\n`)

const reportFile = join(directory, 'validation-report.json')
const report: Report = existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : {}
const findings = (report.pluginReports ?? []).flatMap(r => r.violations.map(v => `${r.pluginName} ${v.ruleName}: ${v.description}`))
if (!process.env.CDK_OUTDIR) rmSync(directory, { recursive: true, force: true })
if (findings.length) {
  process.stderr.write(`template validation:\n${findings.map(f => `  ${f}\n`).join('')}`)
  process.exitCode = 1
}
