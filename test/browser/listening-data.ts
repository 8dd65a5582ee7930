/**
 * Weeks of listening, made through the API as listeners make it: each
 * listener opens a track (GET /stream, a listen) and plays its segments from
 * the start (POST /degrade, a play each), most stopping part way, some going
 * back to a favourite passage. The app's clock is moved to each event's time
 * first, so the history records them on the days and hours chosen here.
 *
 * Deterministic (a seeded generator), and it returns what it made, so a test
 * can compare the page's figures with the truth.
 */
import type { TestApp } from '../helper.js'

export const DAY_MS = 86_400_000
export const HOUR_MS = 3_600_000

export interface PlannedTrack {
  filename: string
  title: string
  seconds: number
  /** Listeners a day, about. */
  popularity: number
  /** Segments listeners go back to and play again. */
  favourite?: { from: number, to: number, replays: number }
}

export interface Made {
  plays: Array<{ filename: string, segment: number, at: number }>
  listens: Array<{ filename: string, at: number, country: string }>
}

/** Evening listening, a little at lunch, hardly any at night (UTC hours, weights). */
const HOURS = [1, 0, 0, 0, 0, 0, 1, 2, 3, 3, 2, 2, 4, 3, 2, 2, 3, 4, 6, 8, 10, 9, 6, 3]
const COUNTRIES = ['GB', 'GB', 'GB', 'US', 'US', 'DE', 'FR', 'NL', 'JP', 'BR', 'CA', 'SE', 'IE']

/** Park and Miller's generator: the same fortnight every run. */
function random (seed: number) {
  let s = seed
  return () => (s = (s * 48271) % 2147483647) / 2147483647
}

function weighted (weights: number[], r: number): number {
  let x = r * weights.reduce((a, b) => a + b, 0)
  for (const [i, w] of weights.entries()) if ((x -= w) < 0) return i
  return weights.length - 1
}

/**
 * Listen on each of `days` (counted back from today, UTC), and at `party` a
 * gathering of listeners at one hour. `setNow` moves the app's clock.
 */
export async function makeListening (app: TestApp['app'], setNow: (ms: number) => void, plan: {
  tracks: PlannedTrack[]
  days: number[]
  party: { daysAgo: number, hour: number, filename: string, listeners: number }
  segmentSeconds: number
}): Promise<Made> {
  const made: Made = { plays: [], listens: [] }
  const next = random(20261201)
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS
  let visitor = 0

  const listen = async (track: PlannedTrack, start: number) => {
    const id = visitor++
    const country = COUNTRIES[id % COUNTRIES.length]!
    const headers = { range: 'bytes=0-1023', 'user-agent': `listener-${id}`, 'x-forwarded-for': `203.0.113.${id % 250}`, 'cf-ipcountry': country }
    setNow(start)
    const res = await app.inject({ url: `/stream/${track.filename}`, headers })
    if (res.statusCode !== 206) throw new Error(`GET /stream/${track.filename}: ${res.statusCode}`)
    made.listens.push({ filename: track.filename, at: start, country })
    const segments = Math.round(track.seconds / plan.segmentSeconds)
    // Most stop part way; about a third hear it to the end.
    const heard = next() < 0.35 ? segments : Math.max(4, Math.round(segments * (0.2 + 0.7 * next())))
    const order = Array.from({ length: heard }, (_, i) => i)
    const fav = track.favourite
    if (fav !== undefined && heard > fav.to) for (let r = 0; r < fav.replays; r++) for (let s = fav.from; s <= fav.to; s++) order.push(s)
    for (const [i, segment] of order.entries()) {
      const at = start + (i + 1) * plan.segmentSeconds * 1000
      setNow(at)
      const played = await app.inject({ method: 'POST', url: `/degrade/${track.filename}`, headers, payload: { segment_index: segment } })
      if (played.statusCode !== 200) throw new Error(`POST /degrade/${track.filename}: ${played.statusCode} ${played.body}`)
      made.plays.push({ filename: track.filename, segment, at })
    }
  }

  // Oldest day first, as time goes: the listener keys are the day's.
  const first = Math.max(...plan.days)
  for (const daysAgo of [...plan.days].sort((a, b) => b - a)) {
    const day = today - daysAgo * DAY_MS
    const weekend = [0, 6].includes(new Date(day).getUTCDay())
    // Word spreads: about twice the listeners at the end as at the start.
    const growth = 0.65 + 0.7 * (first - daysAgo) / first
    const visits: Array<{ track: PlannedTrack, at: number }> = []
    for (const track of plan.tracks) {
      const listeners = Math.round(track.popularity * growth * (weekend ? 1.5 : 1) * (0.5 + next()))
      for (let n = 0; n < listeners; n++) visits.push({ track, at: day + weighted(HOURS, next()) * HOUR_MS + Math.floor(next() * 50) * 60_000 })
    }
    if (daysAgo === plan.party.daysAgo) {
      const track = plan.tracks.find(t => t.filename === plan.party.filename)!
      for (let n = 0; n < plan.party.listeners; n++) visits.push({ track, at: day + plan.party.hour * HOUR_MS + n * 90_000 })
    }
    for (const visit of visits.sort((a, b) => a.at - b.at)) await listen(visit.track, visit.at)
  }
  return made
}
