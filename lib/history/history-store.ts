/**
 * The listening history: when each play and listen happened, rolled up by
 * hour per track. A contract with two backends in mind: SQLite in
 * METADATA_DIR for one machine (sqlite-history.ts) and PostgreSQL for
 * several. Times are milliseconds since the epoch, always UTC.
 *
 * A track's history belongs to its *life*: a new file, a replaced file or a
 * reset starts a new life (the old one stays readable as the previous life);
 * an engine change keeps the life under the track's new identity.
 */

/** One acknowledged play: `count` is the segment's count after it, so (track_id, segment, count) names it once. */
export interface PlayEvent {
  trackId: string
  filename: string
  segment: number
  count: number
  at: number
  /** The track's overall degradation (percent) after the play; undefined when unknown (a replayed record). */
  overall?: number
  /** Plays the track had before this life's history began (the Flask service's counts for an adopted track). */
  before: number
}

/** One listen (a stream `total_streams` counts). */
export interface ListenEvent {
  trackId: string
  filename: string
  at: number
  /** The day's keyed hash of the listener; undefined counts the listen but no listener. */
  listener?: string
  /** ISO 3166-1 alpha-2, or undefined when unknown. */
  country?: string
  before: number
}

export type Bucket = 'hour' | 'day'

export interface HistoryPoint {
  /** Start of the bucket (UTC). */
  t: number
  plays: number
  listens: number
  listeners: number
  /** Overall degradation at the end of the bucket (carried from earlier buckets when nothing was played in it). */
  overall_degradation: number | null
}

export interface LifeSummary {
  filename: string
  started_at: number
  before_plays: number
  plays: number
  listens: number
}

export interface LibraryAnalytics {
  totals: { plays: number, listens: number, tracks: number }
  top_tracks: LifeSummary[]
  days: Array<{ day: number, plays: number, listens: number, listeners: number }>
  countries: Array<{ country: string, listens: number }>
  /** Listens and plays by UTC weekday (0 = Sunday) and hour. */
  clock: Array<{ weekday: number, hour: number, plays: number, listens: number }>
}

export interface HistoryStore {
  /** Record events in one transaction; a play already recorded (same track, segment and count) is ignored. */
  record (plays: readonly PlayEvent[], listens: readonly ListenEvent[]): void
  /** The new identity `newId` continues the life of `oldId` (an engine change). */
  continueLife (oldId: string, newId: string): void
  /** The `back`-th life of `filename` counted from `currentId`'s (0: the current one), by bucket. */
  history (filename: string, currentId: string, query: { from: number, to: number, bucket: Bucket, back: number }): HistoryPoint[]
  analytics (from: number, to: number, top: number): LibraryAnalytics
  /** Forget every life of a deleted track. */
  forget (filename: string): void
  /** Drop raw events older than `rawBefore` and listener keys older than `keysBefore`; rollups stay. */
  prune (rawBefore: number, keysBefore: number): { plays: number, listens: number }
  close (): void
}

export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000

export function hourOf (at: number): number {
  return Math.floor(at / HOUR_MS) * HOUR_MS
}

export function dayOf (at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS
}
