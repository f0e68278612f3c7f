// `--baseline REV`: another revision of wakegate, built into its own folder, measured in the
// same run as the working tree, so "no slower than before" is a same-run ratio rather than a
// comparison across days on a machine whose speed drifts.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './context.js'

export interface Baseline {
  /** The revision as given, and the commit it names. */
  rev: string
  commit: string
  /** Its compiled dist/ (what bench/servers/wakegate.mjs loads through WAKEGATE_BENCH_DIST). */
  dist: string
}

/** Checks out `rev` into bench/.baseline/<commit> (once) and builds it with this tree's node_modules. */
export function buildBaseline (rev: string, log: (line: string) => void): Baseline {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim()
  const commit = git('rev-parse', '--verify', `${rev}^{commit}`)
  const dir = join(ROOT, 'bench', '.baseline', commit.slice(0, 12))
  const dist = join(dir, 'dist')
  if (!existsSync(join(dist, 'server.js'))) {
    log(`  building baseline ${rev} (${commit.slice(0, 12)}) in ${dir}`)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    // git archive: the revision's files without touching this checkout's worktrees.
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: ROOT, stdio: 'inherit' })
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' })
  }
  return { rev, commit, dist }
}
