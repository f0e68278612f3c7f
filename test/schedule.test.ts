// Office hours: parsing, inside/outside in a time zone, and the next change across weekends,
// overnight ranges and daylight-saving changes.
import t from 'tap'
import { compileOfficeHours, isOpen, nextChange, parseRange, validTimeZone, type OfficeHours } from '../src/lifecycle/schedule.js'

const hours = (tz: string, ...ranges: string[]): OfficeHours => {
  const s = compileOfficeHours(tz, ranges)
  if (Array.isArray(s)) throw new Error(s.map(p => p.message).join('; '))
  return s
}
const at = (iso: string) => Date.parse(iso)
const iso = (ms: number) => new Date(ms).toISOString()

t.test('ranges: days, day ranges (wrapping), lists, every day, past midnight', async t => {
  const r = parseRange('Mon-Fri 08:00-19:00')
  t.same(r, { days: [false, true, true, true, true, true, false], start: 8 * 60, end: 19 * 60 })
  t.same((parseRange('Fri-Mon 10:00-12:00') as { days: boolean[] }).days, [true, true, false, false, false, true, true], 'Fri-Mon wraps over the weekend')
  t.same((parseRange('sat, Sun 10:00-14:00') as { days: boolean[] }).days, [true, false, false, false, false, false, true])
  t.same((parseRange('Mon,Wed-Thu 9:30-17:00') as { days: boolean[], start: number }), { days: [false, true, false, true, true, false, false], start: 570, end: 1020 })
  t.same((parseRange('09:00-17:00') as { days: boolean[] }).days, new Array(7).fill(true), 'no days: every day')
  t.same(parseRange('Mon-Fri 22:00-06:00'), { days: [false, true, true, true, true, true, false], start: 1320, end: 360 })
  t.same((parseRange('Sat 20:00-24:00') as { end: number }).end, 1440)
})

t.test('bad ranges say what is wrong', async t => {
  t.match(parseRange('weekdays 8-19'), /expected "Mon-Fri 08:00-19:00"/)
  t.match(parseRange('Mon-Fry 08:00-19:00'), /unknown day in "Mon-Fry"/)
  t.match(parseRange('Mon 08:00-25:00'), /not a time of day/)
  t.match(parseRange('Mon 08:61-19:00'), /not a time of day/)
  t.match(parseRange('Mon 24:00-02:00'), /not a time of day/)
  t.match(parseRange('Mon 08:00-08:00'), /empty range/)
  t.same(compileOfficeHours('UTC', ['Mon 08:00-12:00', 'nope', 'Tue 1:00-2:00']), [{ index: 1, message: parseRange('nope') }])
  t.ok(validTimeZone('Europe/Berlin'))
  t.ok(validTimeZone('UTC'))
  t.notOk(validTimeZone('Mars/Olympus_Mons'))
})

t.test('Mon-Fri 08:00-19:00 in Berlin, winter and summer time, and the weekend', async t => {
  const s = hours('Europe/Berlin', 'Mon-Fri 08:00-19:00')
  // Wednesday 15 January 2025, CET = UTC+1.
  t.notOk(isOpen(s, at('2025-01-15T06:59:00Z')), '07:59')
  t.ok(isOpen(s, at('2025-01-15T07:00:00Z')), '08:00')
  t.ok(isOpen(s, at('2025-01-15T17:59:59Z')), '18:59:59')
  t.notOk(isOpen(s, at('2025-01-15T18:00:00Z')), '19:00')
  t.notOk(isOpen(s, at('2025-01-18T10:00:00Z')), 'Saturday')
  // Wednesday 16 July 2025, CEST = UTC+2.
  t.ok(isOpen(s, at('2025-07-16T06:00:00Z')), '08:00 summer time')
  t.notOk(isOpen(s, at('2025-07-16T05:59:00Z')), '07:59 summer time')
  t.equal(iso(nextChange(s, at('2025-01-15T10:00:00Z'))), '2025-01-15T18:00:00.000Z', 'open: closes at 19:00')
  t.equal(iso(nextChange(s, at('2025-01-17T18:00:00Z'))), '2025-01-20T07:00:00.000Z', 'Friday 19:00: opens Monday 08:00')
  t.equal(iso(nextChange(s, at('2025-01-17T18:00:30Z'))), '2025-01-20T07:00:00.000Z', 'from within a minute too')
})

t.test('the change to summer time moves the instants, not the hours', async t => {
  const s = hours('Europe/Berlin', 'Mon-Sun 08:00-19:00')
  // Sunday 30 March 2025: 02:00 CET becomes 03:00 CEST.
  t.equal(iso(nextChange(s, at('2025-03-29T19:00:00Z'))), '2025-03-30T06:00:00.000Z', 'Sunday 08:00 is 06:00 UTC, not 07:00')
  t.equal(iso(nextChange(s, at('2025-03-30T06:00:00Z'))), '2025-03-30T17:00:00.000Z')
  // A range starting inside the skipped hour opens when the clock jumps past its start.
  const night = hours('Europe/Berlin', '02:30-05:00')
  t.equal(iso(nextChange(night, at('2025-03-29T23:30:00Z'))), '2025-03-30T01:00:00.000Z', '03:00 CEST, the first minute at or after 02:30')
  t.equal(iso(nextChange(night, at('2025-03-30T01:00:00Z'))), '2025-03-30T03:00:00.000Z', 'closes at 05:00 CEST')
  // Back to winter time on Sunday 26 October 2025: 03:00 CEST becomes 02:00 CET; 02:30 comes twice.
  t.equal(iso(nextChange(night, at('2025-10-26T00:00:00Z'))), '2025-10-26T00:30:00.000Z', 'opens at the first 02:30')
  t.equal(iso(nextChange(night, at('2025-10-26T00:30:00Z'))), '2025-10-26T04:00:00.000Z', 'and stays open until 05:00 CET')
  // New York changes on 9 March 2025: Friday 09:00 is 14:00 UTC, Monday 09:00 is 13:00 UTC.
  const ny = hours('America/New_York', 'Mon-Fri 09:00-17:00')
  t.equal(iso(nextChange(ny, at('2025-03-07T22:00:00Z'))), '2025-03-10T13:00:00.000Z')
})

t.test('overnight ranges end the next day, on days the range did not start', async t => {
  const s = hours('UTC', 'Mon-Fri 22:00-06:00')
  t.ok(isOpen(s, at('2025-01-17T23:00:00Z')), 'Friday 23:00')
  t.ok(isOpen(s, at('2025-01-18T05:59:00Z')), 'Saturday 05:59, started Friday')
  t.notOk(isOpen(s, at('2025-01-18T22:00:00Z')), 'Saturday 22:00')
  t.notOk(isOpen(s, at('2025-01-20T05:00:00Z')), 'Monday 05:00: Sunday night is not in it')
  t.ok(isOpen(s, at('2025-01-20T22:30:00Z')), 'Monday 22:30')
  t.equal(iso(nextChange(s, at('2025-01-18T05:00:00Z'))), '2025-01-18T06:00:00.000Z')
  t.equal(iso(nextChange(s, at('2025-01-18T06:00:00Z'))), '2025-01-20T22:00:00.000Z', 'Saturday morning: next Monday night')
})

t.test('several ranges, 24:00, and hours that never change', async t => {
  const s = hours('UTC', 'Mon-Fri 08:00-12:00', 'Mon-Fri 12:00-18:00', 'Sat 20:00-24:00')
  t.equal(iso(nextChange(s, at('2025-01-13T09:00:00Z'))), '2025-01-13T18:00:00.000Z', 'adjacent ranges are one stretch')
  t.ok(isOpen(s, at('2025-01-18T23:59:00Z')), 'Saturday 23:59')
  t.notOk(isOpen(s, at('2025-01-19T00:00:00Z')), 'Sunday 00:00')
  t.equal(nextChange(hours('UTC', '00:00-24:00'), at('2025-01-13T09:00:00Z')), Infinity, 'around the clock')
  t.ok(isOpen(hours('UTC', '00:00-24:00'), at('2025-01-13T00:00:00Z')))
})
