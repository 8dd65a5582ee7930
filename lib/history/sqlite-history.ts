import { DatabaseSync, type StatementSync } from 'node:sqlite'
import {
  DAY_MS, HOUR_MS, dayOf, hourOf,
  type Bucket, type HistoryPoint, type HistoryStore, type LibraryAnalytics, type ListenEvent, type PlayEvent
} from './history-store.js'

/**
 * Bumped with every change to the tables below; an older file is migrated in `migrate`.
 * 2: library_hourly and daily_plays (see TABLES). CREATE ... IF NOT EXISTS alone would add them
 *    empty to a version 1 file, and its analytics would miss everything before the upgrade: the
 *    bump is what makes `migrate` fill them from `hourly` (once, in one transaction).
 */
const SCHEMA_VERSION = 2

/*
 * Raw events (plays, listens) are kept for the retention period; the rollups
 * (hourly, daily, library_daily, countries_daily) forever. `seen` holds the
 * day's keyed listener hashes only as long as it takes to count unique
 * listeners (pruned after two days): it is the only place a listener key is
 * written, and nothing in it names an address.
 */
const TABLES = `
CREATE TABLE IF NOT EXISTS lives (
  life INTEGER PRIMARY KEY,
  filename TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  before_plays INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS lives_by_filename ON lives (filename, life);
CREATE TABLE IF NOT EXISTS identities (track_id TEXT PRIMARY KEY, life INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identities_by_life ON identities (life);
CREATE TABLE IF NOT EXISTS plays (
  life INTEGER NOT NULL, segment INTEGER NOT NULL, count INTEGER NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (life, segment, count)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS plays_by_time ON plays (at);
CREATE TABLE IF NOT EXISTS listens (life INTEGER NOT NULL, at INTEGER NOT NULL, country TEXT);
CREATE INDEX IF NOT EXISTS listens_by_time ON listens (at);
CREATE TABLE IF NOT EXISTS hourly (
  life INTEGER NOT NULL, hour INTEGER NOT NULL,
  plays INTEGER NOT NULL DEFAULT 0, listens INTEGER NOT NULL DEFAULT 0, listeners INTEGER NOT NULL DEFAULT 0,
  overall REAL,
  PRIMARY KEY (life, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hourly_by_hour ON hourly (hour, life, plays, listens);
CREATE TABLE IF NOT EXISTS daily (
  life INTEGER NOT NULL, day INTEGER NOT NULL, listeners INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (life, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS library_daily (day INTEGER PRIMARY KEY, listeners INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS countries_daily (
  day INTEGER NOT NULL, country TEXT NOT NULL, listens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, country)
) WITHOUT ROWID;
-- The library's hours, and each life's days: sums of hourly (kept equal to them by record and
-- forget), so that analytics() reads 24 rows a day, and one per track and day, instead of one per
-- track and hour. With 10 million plays over 90 days (200 tracks, about 400,000 hourly rows), it
-- scanned hourly four times: 67 ms (30 days) and 281 ms (90 days), medians; now 6 and 11 ms
-- (npm run bench:history; BENCHMARKS.md, "Listening history (issue 13)"). Schema version 2.
CREATE TABLE IF NOT EXISTS library_hourly (
  hour INTEGER PRIMARY KEY, plays INTEGER NOT NULL DEFAULT 0, listens INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS daily_plays (
  day INTEGER NOT NULL, life INTEGER NOT NULL, plays INTEGER NOT NULL DEFAULT 0, listens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, life)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS daily_plays_by_life ON daily_plays (life);
CREATE TABLE IF NOT EXISTS seen (
  kind INTEGER NOT NULL, life INTEGER NOT NULL, period INTEGER NOT NULL, listener TEXT NOT NULL,
  PRIMARY KEY (kind, life, period, listener)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_period ON seen (period);
`

/** What a listener key is counted against: a track's hour, a track's day, the library's day. */
const SEEN_TRACK_HOUR = 0
const SEEN_TRACK_DAY = 1
const SEEN_LIBRARY_DAY = 2

export interface SqliteHistoryOptions {
  /** PRAGMA synchronous: FULL makes each batch durable against power loss too (the default). */
  synchronous?: 'FULL' | 'NORMAL'
}

/**
 * The history in one SQLite file (WAL mode). node:sqlite is synchronous:
 * run it in a worker (history-worker.ts), never on the thread that answers plays.
 */
export class SqliteHistory implements HistoryStore {
  private readonly db: DatabaseSync
  private readonly lives = new Map<string, number>()
  private readonly sql: Record<string, StatementSync>

  constructor (path: string, options: SqliteHistoryOptions = {}) {
    this.db = new DatabaseSync(path)
    this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec(`PRAGMA synchronous = ${options.synchronous ?? 'FULL'}`)
    this.db.exec('PRAGMA foreign_keys = OFF')
    this.migrate()
    const s = (text: string): StatementSync => this.db.prepare(text)
    this.sql = {
      identity: s('SELECT life FROM identities WHERE track_id = ?'),
      newLife: s('INSERT INTO lives (filename, started_at, before_plays) VALUES (?, ?, ?)'),
      newIdentity: s('INSERT OR IGNORE INTO identities (track_id, life) VALUES (?, ?)'),
      play: s('INSERT OR IGNORE INTO plays (life, segment, count, at) VALUES (?, ?, ?, ?)'),
      listen: s('INSERT INTO listens (life, at, country) VALUES (?, ?, ?)'),
      seen: s('INSERT OR IGNORE INTO seen (kind, life, period, listener) VALUES (?, ?, ?, ?)'),
      hour: s(`INSERT INTO hourly (life, hour, plays, listens, listeners, overall) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET plays = plays + excluded.plays, listens = listens + excluded.listens,
          listeners = listeners + excluded.listeners, overall = coalesce(excluded.overall, overall)`),
      libraryHour: s(`INSERT INTO library_hourly (hour, plays, listens) VALUES (?, ?, ?)
        ON CONFLICT DO UPDATE SET plays = plays + excluded.plays, listens = listens + excluded.listens`),
      dayPlays: s(`INSERT INTO daily_plays (day, life, plays, listens) VALUES (?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET plays = plays + excluded.plays, listens = listens + excluded.listens`),
      dayListener: s('INSERT INTO daily (life, day, listeners) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET listeners = listeners + 1'),
      libraryListener: s('INSERT INTO library_daily (day, listeners) VALUES (?, 1) ON CONFLICT DO UPDATE SET listeners = listeners + 1'),
      country: s('INSERT INTO countries_daily (day, country, listens) VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET listens = listens + 1'),
      livesOf: s('SELECT life FROM lives WHERE filename = ? ORDER BY life DESC'),
      hours: s('SELECT hour, plays, listens, listeners, overall FROM hourly WHERE life = ? AND hour >= ? AND hour < ? ORDER BY hour'),
      overallBefore: s('SELECT overall FROM hourly WHERE life = ? AND hour < ? AND overall IS NOT NULL ORDER BY hour DESC LIMIT 1'),
      days: s('SELECT day, listeners FROM daily WHERE life = ? AND day >= ? AND day < ?')
    }
  }

  private migrate (): void {
    const version = Number((this.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version)
    if (version > SCHEMA_VERSION) throw new Error(`the history database is of a newer version (${version}) than this service knows (${SCHEMA_VERSION})`)
    this.transaction(() => {
      this.db.exec(TABLES)
      // Version 1 had no library_hourly or daily_plays: sum them from hourly (nothing to sum in a new file).
      if (version < 2) {
        this.db.exec(`INSERT INTO library_hourly (hour, plays, listens) SELECT hour, sum(plays), sum(listens) FROM hourly GROUP BY hour;
          INSERT INTO daily_plays (day, life, plays, listens)
          SELECT (hour / ${DAY_MS}) * ${DAY_MS}, life, sum(plays), sum(listens) FROM hourly GROUP BY 1, 2`)
      }
      this.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
    })
  }

  private lifeOf (trackId: string, filename: string, at: number, before: number): number {
    const known = this.knownLife(trackId)
    if (known !== undefined) return known
    const life = Number(this.sql.newLife!.run(filename, at, before).lastInsertRowid)
    this.sql.newIdentity!.run(trackId, life)
    this.lives.set(trackId, life)
    return life
  }

  private knownLife (trackId: string): number | undefined {
    let life = this.lives.get(trackId)
    if (life === undefined) {
      const row = this.sql.identity!.get(trackId) as { life: number } | undefined
      if (row !== undefined) this.lives.set(trackId, life = Number(row.life))
    }
    return life
  }

  private transaction<T> (work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const result = work()
      this.db.exec('COMMIT')
      return result
    } catch (err) {
      this.db.exec('ROLLBACK')
      // Identities created inside the rolled-back transaction are gone too.
      this.lives.clear()
      throw err
    }
  }

  record (plays: readonly PlayEvent[], listens: readonly ListenEvent[]): void {
    if (plays.length === 0 && listens.length === 0) return
    const q = this.sql
    // The batch's sums per life and hour, written to the rollups once each at the end of the
    // transaction (one upsert per track and hour instead of one per event). `overall` is the last
    // one given in the batch, as one upsert per play keeping the latest non-null one would leave it.
    const hours = new Map<string, { life: number, hour: number, plays: number, listens: number, listeners: number, overall: number | null }>()
    const sums = (life: number, hour: number): { plays: number, listens: number, listeners: number, overall: number | null } => {
      const key = `${life}:${hour}`
      let sum = hours.get(key)
      if (sum === undefined) hours.set(key, sum = { life, hour, plays: 0, listens: 0, listeners: 0, overall: null })
      return sum
    }
    this.transaction(() => {
      for (const p of plays) {
        const life = this.lifeOf(p.trackId, p.filename, p.at, p.before)
        if (Number(q.play!.run(life, p.segment, p.count, p.at).changes) === 0) continue
        const sum = sums(life, hourOf(p.at))
        sum.plays++
        if (p.overall !== undefined) sum.overall = p.overall
      }
      for (const l of listens) {
        const life = this.lifeOf(l.trackId, l.filename, l.at, l.before)
        const hour = hourOf(l.at)
        const day = dayOf(l.at)
        q.listen!.run(life, l.at, l.country ?? null)
        const sum = sums(life, hour)
        sum.listens++
        if (l.country !== undefined) q.country!.run(day, l.country)
        if (l.listener === undefined) continue
        if (Number(q.seen!.run(SEEN_TRACK_HOUR, life, hour, l.listener).changes) > 0) sum.listeners++
        if (Number(q.seen!.run(SEEN_TRACK_DAY, life, day, l.listener).changes) > 0) q.dayListener!.run(life, day)
        if (Number(q.seen!.run(SEEN_LIBRARY_DAY, 0, day, l.listener).changes) > 0) q.libraryListener!.run(day)
      }
      for (const s of hours.values()) {
        q.hour!.run(s.life, s.hour, s.plays, s.listens, s.listeners, s.overall)
        q.libraryHour!.run(s.hour, s.plays, s.listens)
        q.dayPlays!.run(dayOf(s.hour), s.life, s.plays, s.listens)
      }
    })
  }

  continueLife (oldId: string, newId: string): void {
    const life = this.knownLife(oldId)
    if (life === undefined) return
    this.sql.newIdentity!.run(newId, life)
    this.lives.set(newId, life)
  }

  history (filename: string, currentId: string, query: { from: number, to: number, bucket: Bucket, back: number }): HistoryPoint[] {
    const stored = (this.sql.livesOf!.all(filename) as Array<{ life: number }>).map(r => Number(r.life))
    const current = this.knownLife(currentId)
    // A current identity with nothing recorded yet is an empty life ahead of the stored ones.
    const chain: Array<number | undefined> = current === undefined ? [undefined, ...stored] : stored.filter(l => l <= current)
    const life = chain[query.back]
    if (life === undefined) return []
    const step = query.bucket === 'hour' ? HOUR_MS : DAY_MS
    // Whole buckets at both ends: a day's listeners come from its whole-day rollup, so a day cut
    // short by `to` would count listeners of hours it leaves out (more listeners than listens).
    const start = Math.floor(query.from / step) * step
    const end = Math.ceil(query.to / step) * step
    const rows = this.sql.hours!.all(life, start, end) as Array<{ hour: number, plays: number, listens: number, listeners: number, overall: number | null }>
    let overall = (this.sql.overallBefore!.get(life, start) as { overall: number } | undefined)?.overall ?? null
    const points = new Map<number, HistoryPoint>()
    for (const r of rows) {
      const t = Math.floor(Number(r.hour) / step) * step
      let p = points.get(t)
      if (p === undefined) points.set(t, p = { t, plays: 0, listens: 0, listeners: 0, overall_degradation: overall })
      p.plays += Number(r.plays)
      p.listens += Number(r.listens)
      // An hour's listeners are its own; a day's come from the day's rollup (one listener, many hours).
      if (query.bucket === 'hour') p.listeners = Number(r.listeners)
      if (r.overall !== null) overall = r.overall
      p.overall_degradation = overall
    }
    if (query.bucket === 'day') {
      for (const d of this.sql.days!.all(life, start, end) as Array<{ day: number, listeners: number }>) {
        const p = points.get(Number(d.day))
        if (p !== undefined) p.listeners = Number(d.listeners)
      }
    }
    return [...points.values()]
  }

  analytics (from: number, to: number, top: number): LibraryAnalytics {
    const start = hourOf(from)
    const all = <T>(text: string, ...args: number[]): T[] => this.db.prepare(text).all(...args) as T[]
    // The period's hourly rows are [start, end) (every hour is a multiple of HOUR_MS, so `hour < to`
    // is `hour < end`). Per track, its whole UTC days [dayFrom, dayTo) are read from daily_plays
    // (one row per track and day) and only the hours before and after them from hourly: the same
    // sums as reading every hour of the period from hourly, from about 1/24 of the rows.
    const end = Math.ceil(to / HOUR_MS) * HOUR_MS
    const dayFrom = Math.ceil(start / DAY_MS) * DAY_MS
    const dayTo = Math.max(dayFrom, Math.floor(end / DAY_MS) * DAY_MS)
    const [edgeTo, edgeFrom] = dayFrom < dayTo ? [dayFrom, dayTo] : [end, end]
    const perLife = `SELECT life, plays, listens FROM daily_plays WHERE day >= ? AND day < ?
       UNION ALL SELECT life, plays, listens FROM hourly WHERE hour >= ? AND hour < ?
       UNION ALL SELECT life, plays, listens FROM hourly WHERE hour >= ? AND hour < ?`
    const periods = [dayFrom, dayTo, start, edgeTo, edgeFrom, end]
    // The library's totals come from library_hourly (its hours are the sums of every track's).
    const sums = all<{ plays: number | null, listens: number | null }>(
      'SELECT sum(plays) AS plays, sum(listens) AS listens FROM library_hourly WHERE hour >= ? AND hour < ?', start, to)[0]
    const tracks = all<{ tracks: number }>(
      `SELECT count(DISTINCT l.filename) AS tracks FROM lives l WHERE l.life IN (SELECT life FROM (${perLife}))`, ...periods)[0]
    const topTracks = all<{ filename: string, started_at: number, before_plays: number, plays: number, listens: number }>(
      `SELECT l.filename, l.started_at, l.before_plays, sum(h.plays) AS plays, sum(h.listens) AS listens
       FROM (${perLife}) h JOIN lives l USING (life)
       GROUP BY h.life ORDER BY plays DESC, listens DESC, l.life DESC LIMIT ?`, ...periods, top)
    // Days are whole UTC days at both ends, as their listeners (one rollup per day) can only be.
    const daysEnd = Math.ceil(to / DAY_MS) * DAY_MS
    const days = all<{ day: number, plays: number, listens: number }>(
      `SELECT (hour / ${DAY_MS}) * ${DAY_MS} AS day, sum(plays) AS plays, sum(listens) AS listens
       FROM library_hourly WHERE hour >= ? AND hour < ? GROUP BY day ORDER BY day`, dayOf(from), daysEnd)
    const listeners = new Map(all<{ day: number, listeners: number }>(
      'SELECT day, listeners FROM library_daily WHERE day >= ? AND day < ?', dayOf(from), daysEnd).map(r => [Number(r.day), Number(r.listeners)]))
    const countries = all<{ country: string, listens: number }>(
      `SELECT country, sum(listens) AS listens FROM countries_daily WHERE day >= ? AND day < ?
       GROUP BY country ORDER BY listens DESC, country`, dayOf(from), to)
    // 1 January 1970 was a Thursday (weekday 4 counting from Sunday).
    const clock = all<{ weekday: number, hour: number, plays: number, listens: number }>(
      `SELECT ((hour / ${DAY_MS}) + 4) % 7 AS weekday, (hour / ${HOUR_MS}) % 24 AS hour, sum(plays) AS plays, sum(listens) AS listens
       FROM library_hourly WHERE hour >= ? AND hour < ? GROUP BY 1, 2 ORDER BY 1, 2`, start, to)
    return {
      totals: { plays: Number(sums?.plays ?? 0), listens: Number(sums?.listens ?? 0), tracks: Number(tracks?.tracks ?? 0) },
      top_tracks: topTracks.map(r => ({
        filename: r.filename, started_at: Number(r.started_at), before_plays: Number(r.before_plays), plays: Number(r.plays), listens: Number(r.listens)
      })),
      days: days.map(d => ({ day: Number(d.day), plays: Number(d.plays), listens: Number(d.listens), listeners: listeners.get(Number(d.day)) ?? 0 })),
      countries: countries.map(c => ({ country: c.country, listens: Number(c.listens) })),
      clock: clock.map(c => ({ weekday: Number(c.weekday), hour: Number(c.hour), plays: Number(c.plays), listens: Number(c.listens) }))
    }
  }

  forget (filename: string): void {
    this.transaction(() => {
      for (const { life } of this.sql.livesOf!.all(filename) as Array<{ life: number }>) {
        // The library's hours lose what this life added to them; an hour left with nothing goes, as it has no hourly row left.
        this.db.prepare(`UPDATE library_hourly SET plays = library_hourly.plays - h.plays, listens = library_hourly.listens - h.listens
          FROM (SELECT hour, plays, listens FROM hourly WHERE life = ?) AS h WHERE library_hourly.hour = h.hour`).run(life)
        this.db.prepare('DELETE FROM library_hourly WHERE plays = 0 AND listens = 0 AND hour IN (SELECT hour FROM hourly WHERE life = ?)').run(life)
        for (const table of ['plays', 'listens', 'hourly', 'daily', 'daily_plays', 'identities', 'lives']) {
          this.db.prepare(`DELETE FROM ${table} WHERE life = ?`).run(life)
        }
        this.db.prepare(`DELETE FROM seen WHERE life = ? AND kind IN (${SEEN_TRACK_HOUR}, ${SEEN_TRACK_DAY})`).run(life)
      }
      this.lives.clear()
    })
  }

  prune (rawBefore: number, keysBefore: number): { plays: number, listens: number } {
    return this.transaction(() => {
      const plays = Number(this.db.prepare('DELETE FROM plays WHERE at < ?').run(rawBefore).changes)
      const listens = Number(this.db.prepare('DELETE FROM listens WHERE at < ?').run(rawBefore).changes)
      this.db.prepare('DELETE FROM seen WHERE period < ?').run(keysBefore)
      return { plays, listens }
    })
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }
}
