// The PR comment says when the environment goes to sleep: the fixed timeout, the adaptive one
// with its bounds, office hours, a keep-awake.
import t from 'tap'
import { renderComment, type CommentView } from '../src/github/comment.js'

const base: CommentView = { key: 'web/7', app: 'web', url: 'https://pr-7.review.example.com/', state: 'running', sha: 'abcdef1', runningSha: 'abcdef1', idleTimeout: 900_000 }
const footer = (v: CommentView) => /<sub>(.*)<\/sub>/.exec(renderComment(v))![1]

t.test('fixed, adaptive, office hours and keep-awake in the footer', async t => {
  t.equal(footer(base), 'The environment starts on the first request and sleeps after 15 min without traffic. This comment is kept up to date by wakegate.')
  t.match(footer({ ...base, idle: { timeoutMs: 900_000 } }), /sleeps after 15 min without traffic\./)
  t.match(footer({ ...base, idle: { timeoutMs: 780_000, adaptive: { min: 300_000, max: 3_600_000 } } }),
    /sleeps after a quiet time learned from its visits \(now 13 min, within 5 min to 1\.0 h\)\./)
  t.match(footer({ ...base, idle: { timeoutMs: 900_000, officeHours: { text: 'Mon-Fri 08:00-19:00, Europe/Berlin', outsideMs: 300_000 } } }),
    /sleeps after 15 min without traffic; outside office hours \(Mon-Fri 08:00-19:00, Europe\/Berlin\) it goes to sleep when they end and after 5 min without traffic\./)
  t.match(footer({ ...base, idle: { timeoutMs: 900_000, keepAwakeUntil: Date.UTC(2030, 0, 31, 18) } }),
    /sleeps after 15 min without traffic; it is kept awake until 2030-01-31 18:00:00Z\./)
})
