// wakegate's cookie taken out of a Cookie header, the app's cookies kept in order.
import t from 'tap'
import { cookieValues, withoutCookie } from '../src/access/gate.js'

t.test('withoutCookie', async t => {
  const cases: Array<[string, string]> = [
    ['wakegate=abc', ''],
    ['wakegate=abc; app=1', 'app=1'],
    ['app=1; wakegate=abc', 'app=1'],
    ['app=1; wakegate=abc; other=2', 'app=1; other=2'],
    ['wakegate=x; app=1; wakegate=y', 'app=1'],
    ['app=1;wakegate=abc;other=2', 'app=1;other=2'],
    ['xwakegate=1; wakegate-state=2; app=wakegate=3', 'xwakegate=1; wakegate-state=2; app=wakegate=3'],
    ['app=1', 'app=1']
  ]
  for (const [given, want] of cases) t.equal(withoutCookie(given, 'wakegate'), want, given)
  t.same(cookieValues('a=1; wakegate=x; wakegate-state=s; wakegate=y', 'wakegate'), ['x', 'y'])
})
