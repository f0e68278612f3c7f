// The generated trace: a week of pull requests of one team, from a documented model with a
// seed. The parameters were chosen for realism before any policy was run against them (the
// reasoning is in the README); they are not tuned to make any policy look good.
import { addWorkTime, nextWorkTime, workMsBefore, DAY, HOUR, MINUTE, WORK_HOURS, type WorkWeek } from './calendar.js'
import { chance, clamp, derive, exponential, logNormal, poisson, uniform, weighted, type Rng } from './prng.js'
import { sortEvents, type Trace, type TraceEvent, type TraceKind } from './trace.js'

export const MODEL = {
  /** The week starts Monday 2026-03-02 00:00 UTC; the team works at UTC+0, Mon–Fri 09:00–18:00. */
  monday: Date.UTC(2026, 2, 2),
  workHours: WORK_HOURS,
  prs: 50,
  days: 7,
  /** PRs that get a round of review and are then left open (never closed in the window). */
  abandoned: 0.1,
  /** Opened as drafts: review is requested only after 1–2 more pushes. */
  draft: 0.3,
  /** Reviewers per PR: 1, 2 or 3 with these weights. */
  reviewers: [0.5, 0.35, 0.15],
  /** Review rounds (request → visits → fixes) per PR: 1–4 with these weights. */
  rounds: [0.35, 0.35, 0.2, 0.1],
  /** A reviewer looks at a requested review: first round, later rounds. */
  visitsRequest: [0.9, 0.8],
  /** Working minutes from a review request to a reviewer's visit: exponential, at least the minimum. */
  reviewDelayMean: 120,
  reviewDelayMin: 3,
  /** Page views in a burst: 2 + Poisson(3); seconds between them: log-normal, clamped. */
  burstExtra: 3,
  viewGapMedianSec: 30,
  viewGapSigma: 1,
  viewGapMinSec: 3,
  viewGapMaxSec: 300,
  /** A reviewer comes back for a second look, 1–4 working hours later, 1 + Poisson(1) page views. */
  secondLook: 0.3,
  /** After a review round, the author pushes fixes after this many working minutes (exponential, at least 15). */
  fixDelayMean: 180,
  /** Fix pushes per round: 1 + Poisson(1); working minutes between them: log-normal. */
  fixPushesExtra: 1,
  pushGapMedianMin: 20,
  /** Review is requested again after fixes; without it, each reviewer still notices the push. */
  reRequest: 0.8,
  noticePush: 0.25,
  noticeDelayMean: 180,
  /** The author opens their own env after a push, 2–15 minutes later, 1 + Poisson(2) page views. */
  authorCheck: 0.5,
  /** The author links the env in a comment when asking for review; a reviewer links it while commenting. */
  authorMention: 0.3,
  reviewerMention: 0.2,
  /** The author follows a reviewer's link, 10–60 minutes later. */
  followMention: 0.7,
  /** Merged 10 min + exponential(90) working minutes after the last review, no sooner than 1 working day after opening… */
  closeDelayMean: 90,
  minLifeWorkDays: 1,
  /** …and rounds stop once the PR has been open 5 working days. */
  maxLifeWorkDays: 5
}

export interface GenerateOptions { seed: number, prs?: number, days?: number }

const WORK_DAY = (MODEL.workHours.to - MODEL.workHours.from) * HOUR

/** Deterministic SHA-like id of a PR's n-th push. */
export function shaOf (pr: number, n: number): string {
  return (pr * 4096 + n).toString(16).padStart(12, '0')
}

export function generateTrace (opts: GenerateOptions): Trace {
  const prs = opts.prs ?? MODEL.prs
  const days = opts.days ?? MODEL.days
  const w: WorkWeek = { monday: MODEL.monday, ...MODEL.workHours }
  const start = MODEL.monday
  const end = start + days * DAY
  // Openings spread uniformly over the window's working time.
  const workTotal = workMsBefore(w, end)
  const open = derive(opts.seed, 'open')
  const opens = Array.from({ length: prs }, () => addWorkTime(w, start, open.next() * workTotal)).sort((a, b) => a - b)
  const events: TraceEvent[] = []
  opens.forEach((at, i) => events.push(...pullRequest(w, derive(opts.seed, `pr-${i}`), 101 + i, at)))
  return {
    start,
    end,
    // Whole seconds, as access logs have them.
    events: sortEvents(events.map(e => ({ ...e, at: Math.round(e.at / 1000) * 1000 })).filter(e => e.at >= start && e.at < end)),
    source: `generated: ${prs} PRs over ${days} days, seed ${opts.seed}`
  }
}

/** One PR's events, from its opening on. */
function pullRequest (w: WorkWeek, r: Rng, pr: number, openAt: number): TraceEvent[] {
  const out: TraceEvent[] = []
  const ev = (at: number, kind: TraceKind) => out.push({ at, pr, kind })
  const work = (t: number, min: number) => addWorkTime(w, t, min * MINUTE)
  const burst = (at: number, views: number): number => {
    let t = nextWorkTime(w, at)
    for (let v = 0; v < views; v++) {
      if (v > 0) t += clamp(logNormal(r, MODEL.viewGapMedianSec, MODEL.viewGapSigma), MODEL.viewGapMinSec, MODEL.viewGapMaxSec) * 1000
      ev(t, 'visit')
    }
    return t
  }
  const push = (at: number): void => {
    ev(at, 'push')
    if (chance(r, MODEL.authorCheck)) burst(at + uniform(r, 2, 15) * MINUTE, 1 + poisson(r, 2))
  }
  const abandoned = chance(r, MODEL.abandoned)
  const reviewers = 1 + weighted(r, MODEL.reviewers)
  const rounds = abandoned ? 1 : 1 + weighted(r, MODEL.rounds)
  const lastRoundBy = addWorkTime(w, openAt, MODEL.maxLifeWorkDays * WORK_DAY)

  ev(openAt, 'open')
  if (chance(r, MODEL.authorCheck)) burst(openAt + uniform(r, 2, 15) * MINUTE, 1 + poisson(r, 2))
  let t = openAt
  if (chance(r, MODEL.draft)) {
    const more = 1 + Math.floor(r.next() * 2)
    for (let k = 0; k < more; k++) { t = work(t, logNormal(r, 45, 0.6)); push(t) }
    t = work(t, uniform(r, 10, 60))
  } else t += uniform(r, 1, 10) * MINUTE

  for (let round = 0; round < rounds && t < lastRoundBy; round++) {
    let lastLook = t
    const requested = round === 0 || chance(r, MODEL.reRequest)
    if (requested) {
      if (chance(r, MODEL.authorMention)) ev(t - uniform(r, 0.5, 2) * MINUTE, 'comment')
      ev(t, 'review_requested')
    }
    for (let k = 0; k < reviewers; k++) {
      const p = requested ? MODEL.visitsRequest[Math.min(round, 1)] : MODEL.noticePush
      if (!chance(r, p)) continue
      const delay = requested ? Math.max(MODEL.reviewDelayMin, exponential(r, MODEL.reviewDelayMean)) : exponential(r, MODEL.noticeDelayMean)
      const from = work(t, delay)
      const views = 2 + poisson(r, MODEL.burstExtra)
      let ended = burst(from, views)
      if (chance(r, MODEL.reviewerMention)) {
        ev(ended, 'comment')
        if (chance(r, MODEL.followMention)) burst(work(ended, uniform(r, 10, 60)), 1 + poisson(r, 2))
      }
      if (chance(r, MODEL.secondLook)) ended = burst(work(ended, uniform(r, 60, 240)), 1 + poisson(r, 1))
      lastLook = Math.max(lastLook, ended)
    }
    t = lastLook
    if (round === rounds - 1) break
    // The author addresses the review: fix pushes, then (usually) asks again.
    t = work(t, Math.max(15, exponential(r, MODEL.fixDelayMean)))
    const fixes = 1 + poisson(r, MODEL.fixPushesExtra)
    for (let k = 0; k < fixes; k++) {
      if (k > 0) t = work(t, logNormal(r, MODEL.pushGapMedianMin, 0.8))
      push(t)
    }
    t = work(t, uniform(r, 2, 20))
  }
  if (!abandoned) {
    const merged = work(t, 10 + exponential(r, MODEL.closeDelayMean))
    ev(Math.max(merged, addWorkTime(w, openAt, MODEL.minLifeWorkDays * WORK_DAY)), 'close')
  }
  return out
}
