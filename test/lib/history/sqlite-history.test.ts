import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { SqliteHistory } from '../../../lib/history/sqlite-history.js'
import { DAY_MS, HOUR_MS, type ListenEvent, type PlayEvent } from '../../../lib/history/history-store.js'

const root = await mkdtemp(join(tmpdir(), 'history-test-'))
t.teardown(async () => await rm(root, { recursive: true, force: true }))
let n = 0
function open (): { store: SqliteHistory, path: string } {
  const path = join(root, `h${n++}.sqlite`)
  const store = new SqliteHistory(path)
  t.teardown(() => store.close())
  return { store, path }
}

// Tuesday 1 December 2026, 23:30 UTC: half an hour before a day boundary.
const T0 = Date.UTC(2026, 11, 1, 23, 30)
const play = (segment: number, count: number, at: number, extra: Partial<PlayEvent> = {}): PlayEvent =>
  ({ trackId: 'id-1', filename: 'a.wav', segment, count, at, overall: count, before: 0, ...extra })
const listen = (at: number, extra: Partial<ListenEvent> = {}): ListenEvent =>
  ({ trackId: 'id-1', filename: 'a.wav', at, before: 0, ...extra })
const range = { from: T0 - DAY_MS, to: T0 + 2 * DAY_MS, back: 0 }

t.test('plays roll up by hour and by UTC day across the boundaries', async t => {
  const { store } = open()
  store.record([
    play(0, 1, T0), play(0, 2, T0 + 29 * 60_000), // 23:30 and 23:59 on the 1st
    play(1, 1, T0 + 31 * 60_000), // 00:01 on the 2nd
    play(1, 2, T0 + 90 * 60_000) // 01:00 on the 2nd
  ], [])
  const hours = store.history('a.wav', 'id-1', { ...range, bucket: 'hour' })
  t.same(hours.map(h => [new Date(h.t).toISOString(), h.plays, h.overall_degradation]), [
    ['2026-12-01T23:00:00.000Z', 2, 2],
    ['2026-12-02T00:00:00.000Z', 1, 1],
    ['2026-12-02T01:00:00.000Z', 1, 2]
  ])
  const days = store.history('a.wav', 'id-1', { ...range, bucket: 'day' })
  t.same(days.map(d => [new Date(d.t).toISOString(), d.plays, d.overall_degradation]), [
    ['2026-12-01T00:00:00.000Z', 2, 2],
    ['2026-12-02T00:00:00.000Z', 2, 2]
  ], 'a day ends with the degradation of its last play')
  const from = T0 + 31 * 60_000 // mid-hour: the hour it falls in is included
  t.same(store.history('a.wav', 'id-1', { from, to: T0 + HOUR_MS, back: 0, bucket: 'hour' }).map(h => h.plays), [1])
  t.same(store.history('a.wav', 'id-1', { from: T0 + 3 * HOUR_MS, to: T0 + 4 * HOUR_MS, back: 0, bucket: 'hour' }), [], 'a quiet period has no points')
})

t.test('a play recorded twice (a journal replay) counts once', async t => {
  const { store } = open()
  store.record([play(3, 1, T0), play(3, 2, T0)], [])
  store.record([play(3, 2, T0 + 5000), play(3, 3, T0 + 6000)], [])
  t.same(store.history('a.wav', 'id-1', { ...range, bucket: 'day' }).map(d => d.plays), [3])
})

t.test('an hour with listens only carries the degradation of the hours before it', async t => {
  const { store } = open()
  store.record([play(0, 1, T0, { overall: 4.5 })], [listen(T0 + 3 * HOUR_MS)])
  const hours = store.history('a.wav', 'id-1', { ...range, bucket: 'hour' })
  t.same(hours.map(h => [h.plays, h.listens, h.overall_degradation]), [[1, 0, 4.5], [0, 1, 4.5]])
  t.same(store.history('a.wav', 'id-1', { from: T0 + 3 * HOUR_MS, to: T0 + 4 * HOUR_MS, back: 0, bucket: 'hour' })[0]?.overall_degradation, 4.5,
    'carried from before the period asked for')
  t.same(store.history('a.wav', 'id-1', { ...range, bucket: 'hour' }).length, 2)
  const replayed = open().store
  replayed.record([{ ...play(0, 1, T0), overall: undefined } as unknown as PlayEvent], [])
  t.equal(replayed.history('a.wav', 'id-1', { ...range, bucket: 'hour' })[0]?.overall_degradation, null, 'unknown until a play says')
})

t.test('unique listeners: per hour, per day and per library day', async t => {
  const { store } = open()
  store.record([], [
    listen(T0, { listener: 'k1' }), listen(T0 + 60_000, { listener: 'k1' }), listen(T0 + 120_000, { listener: 'k2' }),
    listen(T0 + 40 * 60_000, { listener: 'k1' }), // the next day (and hour)
    listen(T0 + 41 * 60_000, { listener: 'k1', trackId: 'id-2', filename: 'b.wav' }),
    listen(T0 + 42 * 60_000) // a listen without a key: counted, no listener
  ])
  t.same(store.history('a.wav', 'id-1', { ...range, bucket: 'hour' }).map(h => [h.listens, h.listeners]), [[3, 2], [2, 1]])
  t.same(store.history('a.wav', 'id-1', { ...range, bucket: 'day' }).map(h => [h.listens, h.listeners]), [[3, 2], [2, 1]])
  const a = store.analytics(T0 - DAY_MS, T0 + DAY_MS, 10)
  t.same(a.days.map(d => [new Date(d.day).toISOString().slice(0, 10), d.listens, d.listeners]), [['2026-12-01', 3, 2], ['2026-12-02', 3, 1]],
    'one listener on two tracks is one listener of the library')
})

t.test('a listener heard in many hours of a day is one listener of the day', async t => {
  const { store } = open()
  const day = Date.UTC(2026, 11, 3)
  store.record([], [0, 1, 2, 5, 23].map(h => listen(day + h * HOUR_MS, { listener: 'same' })))
  t.same(store.history('a.wav', 'id-1', { from: day, to: day + DAY_MS, back: 0, bucket: 'hour' }).map(h => h.listeners), [1, 1, 1, 1, 1])
  t.same(store.history('a.wav', 'id-1', { from: day, to: day + DAY_MS, back: 0, bucket: 'day' }).map(h => [h.listens, h.listeners]), [[5, 1]])
})

t.test('lives: a new identity starts a new one, an engine change continues it', async t => {
  const { store } = open()
  store.record([play(0, 1, T0), play(0, 2, T0 + 1000)], [])
  store.continueLife('id-1', 'id-1-tape')
  store.record([play(0, 3, T0 + 2000, { trackId: 'id-1-tape' })], [])
  t.same(store.history('a.wav', 'id-1-tape', { ...range, bucket: 'day' }).map(d => d.plays), [3], 'the engine change kept the history')
  // A reset: a new identity, counted from zero again.
  t.same(store.history('a.wav', 'id-reset', { ...range, bucket: 'day' }), [], 'nothing yet in the new life')
  t.same(store.history('a.wav', 'id-reset', { ...range, bucket: 'day', back: 1 }).map(d => d.plays), [3], 'the previous life stays readable')
  store.record([play(0, 1, T0 + 3000, { trackId: 'id-reset' })], [])
  t.same(store.history('a.wav', 'id-reset', { ...range, bucket: 'day' }).map(d => d.plays), [1])
  t.same(store.history('a.wav', 'id-reset', { ...range, bucket: 'day', back: 1 }).map(d => d.plays), [3])
  t.same(store.history('a.wav', 'id-reset', { ...range, bucket: 'day', back: 2 }), [])
  store.continueLife('unknown', 'id-x')
  t.same(store.history('a.wav', 'id-x', { ...range, bucket: 'day' }), [], 'continuing an unknown identity starts nothing')
})

t.test('an adopted track starts its history with a "before" figure', async t => {
  const { store } = open()
  store.record([play(0, 8, T0, { before: 120 })], [])
  const a = store.analytics(T0 - DAY_MS, T0 + DAY_MS, 10)
  t.same(a.top_tracks.map(x => [x.filename, x.before_plays, x.plays, x.started_at]), [['a.wav', 120, 1, T0]])
})

t.test('forget removes every life of a track, and only of that track', async t => {
  const { store, path } = open()
  store.record([play(0, 1, T0), play(0, 1, T0, { trackId: 'id-2', filename: 'b.wav' })], [listen(T0, { listener: 'k', country: 'FR' })])
  store.record([play(0, 1, T0, { trackId: 'id-1b' })], []) // a.wav's second life
  store.forget('a.wav')
  t.same(store.history('a.wav', 'id-1b', { ...range, bucket: 'day' }), [])
  t.same(store.history('a.wav', 'id-1b', { ...range, bucket: 'day', back: 1 }), [])
  t.same(store.history('b.wav', 'id-2', { ...range, bucket: 'day' }).map(d => d.plays), [1])
  const db = new DatabaseSync(path, { readOnly: true })
  t.teardown(() => db.close())
  for (const table of ['plays', 'listens', 'hourly', 'daily', 'lives', 'identities']) {
    t.same(db.prepare(`SELECT count(*) AS n FROM ${table} WHERE life IN (SELECT life FROM lives WHERE filename = 'a.wav')`).get()?.n, 0, table)
  }
  t.equal(db.prepare("SELECT count(*) AS n FROM lives WHERE filename = 'a.wav'").get()?.n, 0)
  t.equal(db.prepare('SELECT count(*) AS n FROM seen WHERE kind < 2').get()?.n, 0, 'its listener keys are gone')
  // A new a.wav later is a new track.
  store.record([play(0, 1, T0 + 5000, { trackId: 'id-new' })], [])
  t.same(store.history('a.wav', 'id-new', { ...range, bucket: 'day', back: 1 }), [])
})

t.test('prune drops raw events and old listener keys, never the rollups', async t => {
  const { store, path } = open()
  const old = T0 - 100 * DAY_MS
  store.record([play(0, 1, old), play(0, 2, T0)], [listen(old, { listener: 'k', country: 'DE' }), listen(T0, { listener: 'k' })])
  const pruned = store.prune(T0 - 90 * DAY_MS, T0 - DAY_MS)
  t.same(pruned, { plays: 1, listens: 1 })
  const db = new DatabaseSync(path, { readOnly: true })
  t.teardown(() => db.close())
  t.equal(db.prepare('SELECT count(*) AS n FROM plays').get()?.n, 1)
  t.equal(db.prepare('SELECT count(*) AS n FROM listens').get()?.n, 1)
  t.equal(db.prepare('SELECT count(*) AS n FROM seen WHERE period < ?').get(T0 - DAY_MS)?.n, 0, 'keys older than a day are gone')
  const a = store.analytics(old - DAY_MS, T0 + DAY_MS, 10)
  t.same([a.totals.plays, a.totals.listens], [2, 2], 'the rollups keep the pruned period')
  t.same(a.countries, [{ country: 'DE', listens: 1 }])
})

t.test('library analytics: totals, top tracks, days, countries and the UTC clock', async t => {
  const { store } = open()
  const fri = Date.UTC(2026, 11, 4, 21, 15) // a Friday, 21:15 UTC
  store.record([
    play(0, 1, fri), play(1, 1, fri), play(2, 1, fri),
    play(0, 1, fri + DAY_MS, { trackId: 'id-2', filename: 'b.wav' })
  ], [
    listen(fri, { country: 'GB', listener: 'x' }), listen(fri, { country: 'GB', listener: 'y' }), listen(fri, { country: 'US', listener: 'x' })
  ])
  const a = store.analytics(fri - DAY_MS, fri + 2 * DAY_MS, 1)
  t.same(a.totals, { plays: 4, listens: 3, tracks: 2 })
  t.same(a.top_tracks.map(x => [x.filename, x.plays, x.listens]), [['a.wav', 3, 3]], 'top 1')
  t.same(a.countries, [{ country: 'GB', listens: 2 }, { country: 'US', listens: 1 }])
  t.same(a.clock, [{ weekday: 5, hour: 21, plays: 3, listens: 3 }, { weekday: 6, hour: 21, plays: 1, listens: 0 }])
  t.same(store.analytics(fri + 3 * DAY_MS, fri + 4 * DAY_MS, 10), { totals: { plays: 0, listens: 0, tracks: 0 }, top_tracks: [], days: [], countries: [], clock: [] })
})

t.test('a failed batch is rolled back whole, and the store stays usable', async t => {
  const { store } = open()
  // A new identity without a name breaks a NOT NULL constraint half-way through the batch.
  const bad = play(0, 1, T0, { trackId: 'id-bad', filename: null as unknown as string })
  t.throws(() => store.record([play(1, 1, T0), bad], []))
  t.same(store.history('a.wav', 'id-1', { ...range, bucket: 'day' }), [], 'the good play of the batch is not half-written')
  store.record([play(1, 1, T0)], [])
  t.same(store.history('a.wav', 'id-1', { ...range, bucket: 'day' }).map(d => d.plays), [1])
})

t.test('reopening a file keeps everything; a newer schema is refused in words', async t => {
  const path = join(root, 'reopen.sqlite')
  const first = new SqliteHistory(path)
  first.record([play(0, 1, T0)], [])
  first.close()
  const again = new SqliteHistory(path)
  again.record([play(0, 1, T0), play(0, 2, T0)], [])
  t.same(again.history('a.wav', 'id-1', { ...range, bucket: 'day' }).map(d => d.plays), [2])
  again.close()
  const db = new DatabaseSync(path)
  db.exec('PRAGMA user_version = 99')
  db.close()
  t.throws(() => new SqliteHistory(path), /newer version \(99\)/)
})
