// npm run bench:history: the listening history (lib/history, SQLite) at 10
// million plays. Fills a fresh database through the real record() API in
// production's batches, then reports the fill rate, the file's size, what one
// batch costs with production's synchronous=FULL, and how long each query of
// the admin dashboard and the hourly prune take (target: each under 50 ms).
// The serving figure (plays/s with the history on) comes from bench/run.mjs:
// `--keep FILE` keeps the filled database for its `--history FILE`.
// Imports the compiled modules, like the other bench scripts: npm run build first.
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SqliteHistory } from '../dist/lib/history/sqlite-history.js'
import { openWorkerHistory } from '../dist/lib/history/worker-history.js'
import { DAY_MS, HOUR_MS, dayOf } from '../dist/lib/history/history-store.js'
import { machine, round } from './lib/procs.mjs'

const { values: args } = parseArgs({
  options: {
    plays: { type: 'string', default: '10000000' },
    tracks: { type: 'string', default: '200' },
    segments: { type: 'string', default: '480' },
    days: { type: 'string', default: '90' },
    // One listen (a stream, with its listener key and mostly a country) per about this many plays.
    'plays-per-listen': { type: 'string', default: '60' },
    // Events per record() call, one transaction each: the recorder's maxBatch.
    batch: { type: 'string', default: '5000' },
    // The fill's PRAGMA synchronous; production uses FULL (its cost per batch is measured separately).
    synchronous: { type: 'string', default: 'NORMAL' },
    // Repetitions of each dashboard query (capped at QUERY_SECONDS_CAP seconds each).
    reps: { type: 'string', default: '200' },
    // Copy the filled database here (for `npm run bench -- --history FILE`).
    keep: { type: 'string' },
    label: { type: 'string', default: '' }
  }
})

const PLAYS = Number(args.plays)
const TRACKS = Number(args.tracks)
const SEGMENTS = Number(args.segments)
const DAYS = Number(args.days)
const PLAYS_PER_LISTEN = Number(args['plays-per-listen'])
const BATCH = Number(args.batch)
const REPS = Number(args.reps)
const WORKER_REPS = 30
const QUERY_SECONDS_CAP = 20
const TARGET_MS = 50
// Every 20th track (from the 8th) was reset halfway: a second life under a new identity, as a reset makes.
const RESET_EVERY = 20
const RESET_OFFSET = 7
// Distinct listeners a day can draw from, and the share of listens whose country is known.
const LISTENERS_PER_DAY = 1500
const KNOWN_COUNTRY = 0.85
const COUNTRIES = [['US', 30], ['DE', 12], ['GB', 10], ['FR', 8], ['BR', 6], ['JP', 5], ['NL', 4], ['CA', 4], ['SE', 3], ['IT', 3], ['ES', 3], ['PL', 2], ['AU', 2], ['MX', 2], ['IN', 2], ['KR', 1], ['AR', 1], ['CH', 1], ['NO', 1]]
const RESULTS = fileURLToPath(new URL('results/', import.meta.url))

const t0 = performance.now()
const log = (...m) => console.error(`[history ${round((performance.now() - t0) / 1000, 0)}s]`, ...m)

// A seeded generator (mulberry32): every run writes the same history.
let seed = 0x5eed
function random () {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
}

/** An index drawn from cumulative weights. */
function pick (cumulative) {
  const x = random() * cumulative[cumulative.length - 1]
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cumulative[mid] > x) hi = mid
    else lo = mid + 1
  }
  return lo
}

const cumulate = weights => { let s = 0; return weights.map(w => (s += w)) }
// Popularity: a few tracks are played far more than the rest (Zipf, exponent 0.8): the top one
// gets about 8 % of the plays, the 200th about 0.1 %.
const trackWeights = cumulate(Array.from({ length: TRACKS }, (_, i) => 1 / (i + 1) ** 0.8))
const countryWeights = cumulate(COUNTRIES.map(c => c[1]))

// The history ends at the current hour, so a service started on the kept file prunes
// almost nothing (ANALYTICS_RETENTION_DAYS defaults to 90).
const END = Math.floor(Date.now() / HOUR_MS) * HOUR_MS
const START = END - DAYS * DAY_MS
const RESET_AT = START + Math.floor(DAYS / 2) * DAY_MS

/**
 * The hours' shares of the plays: a daily rhythm (most at 20:00 UTC, fewest at
 * 08:00), weekends a quarter busier, and a library that grows (the last day
 * about twice as busy as the first).
 */
function hourWeight (hourStart) {
  const h = (hourStart / HOUR_MS) % 24
  const weekday = (Math.floor(hourStart / DAY_MS) + 4) % 7
  const daily = 0.15 + (1 + Math.cos(2 * Math.PI * (h - 20) / 24)) / 2
  const weekend = weekday === 0 || weekday === 6 ? 1.25 : 1
  const growth = 0.65 + 0.7 * (hourStart - START) / (END - START)
  return daily * weekend * growth
}

// Each life's segment counts: a play's count is the segment's count after it.
const counts = new Map()
const lifePlays = new Map()
const listenerKeys = new Map()

function lifeOf (track, at) {
  const life = track % RESET_EVERY === RESET_OFFSET && at >= RESET_AT ? 2 : 1
  const trackId = `track-${track}-life-${life}`
  if (!counts.has(trackId)) {
    counts.set(trackId, new Int32Array(SEGMENTS))
    lifePlays.set(trackId, 0)
  }
  return { trackId, filename: `track-${track}.wav` }
}

/** The day's keyed hash of one of the day's listeners (16 bytes, base64url, as ListenerKeys makes). */
function listenerOf (at) {
  // Some listeners come back many times a day, most once or twice.
  const index = Math.floor(random() ** 2 * LISTENERS_PER_DAY)
  const key = `${dayOf(at)}:${index}`
  let hash = listenerKeys.get(key)
  if (hash === undefined) {
    hash = createHash('sha256').update(key).digest().subarray(0, 16).toString('base64url')
    listenerKeys.set(key, hash)
  }
  return hash
}

/**
 * The events of `plays` plays from `from` for `hours` hours, in listening
 * sessions: a listen, then about PLAYS_PER_LISTEN consecutive segments of one
 * track, half a second apart. Yields { plays, listens } of about `batch` events.
 */
function * events (from, hours, plays, batch) {
  const weights = Array.from({ length: hours }, (_, i) => hourWeight(from + i * HOUR_MS))
  const total = weights.reduce((a, b) => a + b, 0)
  let pendingPlays = []
  let pendingListens = []
  let given = 0
  let share = 0
  for (let h = 0; h < hours; h++) {
    // Cumulative rounding: the hours' plays add up to exactly `plays`.
    share += weights[h] / total * plays
    let left = Math.round(share) - given
    given += left
    const sessions = []
    while (left > 0) {
      const length = Math.min(left, Math.round(PLAYS_PER_LISTEN * (0.3 + 1.4 * random())))
      sessions.push({ at: from + h * HOUR_MS + Math.floor(random() * HOUR_MS), length })
      left -= length
    }
    sessions.sort((a, b) => a.at - b.at)
    for (const s of sessions) {
      const track = pick(trackWeights)
      const { trackId, filename } = lifeOf(track, s.at)
      const segmentCounts = counts.get(trackId)
      const listen = { trackId, filename, at: s.at, listener: listenerOf(s.at), before: 0 }
      if (random() < KNOWN_COUNTRY) listen.country = COUNTRIES[pick(countryWeights)][0]
      pendingListens.push(listen)
      const first = Math.floor(random() * SEGMENTS)
      for (let k = 0; k < s.length; k++) {
        const segment = (first + k) % SEGMENTS
        const played = lifePlays.get(trackId) + 1
        lifePlays.set(trackId, played)
        // Overall degradation: the track wears away over about 300 plays of each segment.
        const overall = Math.min(100, round(100 * played / (SEGMENTS * 300), 2))
        pendingPlays.push({ trackId, filename, segment, count: ++segmentCounts[segment], at: s.at + k * 500, overall, before: 0 })
      }
      if (pendingPlays.length + pendingListens.length >= batch) {
        yield { plays: pendingPlays, listens: pendingListens }
        pendingPlays = []
        pendingListens = []
      }
    }
  }
  if (pendingPlays.length + pendingListens.length > 0) yield { plays: pendingPlays, listens: pendingListens }
}

/** Median, p99 and max of a list of milliseconds. */
function summary (ms) {
  const sorted = [...ms].sort((a, b) => a - b)
  const at = q => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))], 2)
  return { runs: sorted.length, medianMs: at(0.5), p99Ms: at(0.99), maxMs: round(sorted.at(-1), 2) }
}

async function fileSize (path) {
  try { return (await stat(path)).size } catch { return 0 }
}

const startedAt = new Date()
const results = {
  label: args.label,
  startedAt: startedAt.toISOString(),
  machine: machine({ sqlite: new DatabaseSync(':memory:').prepare('SELECT sqlite_version() AS v').get().v }),
  settings: { plays: PLAYS, tracks: TRACKS, segments: SEGMENTS, days: DAYS, playsPerListen: PLAYS_PER_LISTEN, batch: BATCH, fillSynchronous: args.synchronous, reps: REPS, from: new Date(START).toISOString(), to: new Date(END).toISOString() }
}

const work = await mkdtemp(join(tmpdir(), 'ephemeral-history-'))
const path = join(work, 'history.sqlite')
try {
  await fill()
  await batchCost()
  await queries()
  await prunes()
} finally {
  await rm(work, { recursive: true, force: true })
}
results.machine.loadAverageAtEnd = loadavg().map(n => round(n, 2))
results.totalSeconds = round((performance.now() - t0) / 1000, 0)
await mkdir(RESULTS, { recursive: true })
const file = join(RESULTS, `history-${startedAt.toISOString().replace(/[:.]/g, '-')}${args.label ? '-' + args.label : ''}.json`)
await writeFile(file, JSON.stringify(results, null, 2) + '\n')
printTable()
console.log(`\nJSON: ${file}`)

/** The fill: PLAYS plays over DAYS days, BATCH events per record() call, as the recorder sends them. */
async function fill () {
  log(`filling ${path}: ${PLAYS.toLocaleString('en')} plays over ${DAYS} days, ${TRACKS} tracks of ${SEGMENTS} segments, synchronous=${args.synchronous}`)
  const history = new SqliteHistory(path, { synchronous: args.synchronous })
  let plays = 0
  let listens = 0
  let batches = 0
  let recordMs = 0
  const began = performance.now()
  // The rate per tenth of the fill: does writing slow down as the tables grow?
  const tenths = []
  let tenth = { since: began, events: 0, recordMs: 0 }
  for (const batch of events(START, DAYS * 24, PLAYS, BATCH)) {
    const t = performance.now()
    history.record(batch.plays, batch.listens)
    const ms = performance.now() - t
    recordMs += ms
    batches++
    plays += batch.plays.length
    listens += batch.listens.length
    tenth.events += batch.plays.length + batch.listens.length
    tenth.recordMs += ms
    if (plays >= PLAYS * (tenths.length + 1) / 10 || plays === PLAYS) {
      tenths.push({ upToPlays: plays, eventsPerSecond: Math.round(tenth.events / tenth.recordMs * 1000) })
      log(`${plays.toLocaleString('en')} plays, ${tenths.at(-1).eventsPerSecond.toLocaleString('en')} events/s in record() lately`)
      tenth = { since: performance.now(), events: 0, recordMs: 0 }
    }
  }
  const wallMs = performance.now() - began
  // As production's hourly prune would have: listener keys older than yesterday go.
  history.prune(0, dayOf(END) - DAY_MS)
  // The file as the service leaves it while running: the database and its write-ahead log.
  const db = await fileSize(path)
  const wal = await fileSize(`${path}-wal`)
  history.close()
  // Closing the last connection checkpoints the log into the database and deletes it.
  const closedDb = await fileSize(path)
  const raw = new DatabaseSync(path, { readOnly: true })
  const tables = raw.prepare('SELECT name, sum(pgsize) AS bytes, count(*) AS pages FROM dbstat GROUP BY name ORDER BY bytes DESC').all()
    .map(r => ({ name: r.name, mb: round(Number(r.bytes) / 1e6, 1) }))
  const rows = Object.fromEntries(['plays', 'listens', 'hourly', 'daily', 'seen', 'lives'].map(t => [t, Number(raw.prepare(`SELECT count(*) AS n FROM ${t}`).get().n)]))
  raw.close()
  results.fill = {
    plays,
    listens,
    batches,
    eventsPerBatch: Math.round((plays + listens) / batches),
    wallSeconds: round(wallMs / 1000, 1),
    eventsPerSecondWall: Math.round((plays + listens) / wallMs * 1000),
    eventsPerSecondInRecord: Math.round((plays + listens) / recordMs * 1000),
    tenths,
    size: {
      dbMb: round(db / 1e6, 1),
      walMb: round(wal / 1e6, 1),
      bytesPerPlay: round((db + wal) / plays, 1),
      afterCheckpointMb: round(closedDb / 1e6, 1),
      bytesPerPlayAfterCheckpoint: round(closedDb / plays, 1),
      tables
    },
    rows
  }
  log(`filled in ${results.fill.wallSeconds} s; ${results.fill.size.dbMb} MB + ${results.fill.size.walMb} MB of log, ${results.fill.size.afterCheckpointMb} MB checkpointed`)
  if (args.keep !== undefined) {
    await copyFile(path, args.keep)
    log(`kept a copy as ${args.keep}`)
  }
}

/**
 * What one batch costs on the filled database, with production's
 * synchronous=FULL (an fsync of the log at each commit) and with NORMAL, for
 * the recorder's full batch (5,000 events) and for a second's worth at 2,000
 * plays/s (the recorder flushes every second). Rounds alternate, so other work
 * on the machine falls on both alike. The plays go on from where the fill
 * stopped: the same tracks, the next counts of their segments.
 */
async function batchCost () {
  const sizes = [BATCH, 2000]
  const ROUNDS = 4
  const PER_ROUND = 5
  const ms = {}
  let from = END
  for (let r = 0; r < ROUNDS; r++) {
    for (const synchronous of ['FULL', 'NORMAL']) {
      const history = new SqliteHistory(path, { synchronous })
      for (const size of sizes) {
        // Events of a few minutes after the fill's end, in batches of `size`.
        const batches = [...events(from, 1, size * PER_ROUND * PLAYS_PER_LISTEN / (PLAYS_PER_LISTEN + 1), size)].slice(0, PER_ROUND)
        from += HOUR_MS
        for (const b of batches) {
          const t = performance.now()
          history.record(b.plays, b.listens)
          ;(ms[`${synchronous}:${size}`] ??= []).push(performance.now() - t)
        }
      }
      history.close()
    }
  }
  results.batchCost = sizes.flatMap(size => ['FULL', 'NORMAL'].map(synchronous => {
    const s = summary(ms[`${synchronous}:${size}`])
    return { synchronous, events: size, ...s, eventsPerSecond: Math.round(size / s.medianMs * 1000) }
  }))
  log('batch cost measured')
}

/** The dashboard's queries, directly on the store (the SQL) and through the worker (what a route waits for). */
async function queries () {
  // The most played track's page, and the library's.
  const filename = 'track-0.wav'
  const trackId = 'track-0-life-1'
  const list = [
    ['history, hourly, 7 days', h => h.history(filename, trackId, { from: END - 7 * DAY_MS, to: END, bucket: 'hour', back: 0 })],
    ['history, daily, 90 days', h => h.history(filename, trackId, { from: END - 90 * DAY_MS, to: END, bucket: 'day', back: 0 })],
    ['analytics, 30 days, top 10', h => h.analytics(END - 30 * DAY_MS, END, 10)],
    ['analytics, 90 days, top 10', h => h.analytics(END - 90 * DAY_MS, END, 10)]
  ]
  results.queries = []
  const history = new SqliteHistory(path)
  for (const [name, query] of list) {
    for (let i = 0; i < 3; i++) query(history)
    const ms = []
    const began = performance.now()
    let points
    while (ms.length < REPS && performance.now() - began < QUERY_SECONDS_CAP * 1000) {
      const t = performance.now()
      points = query(history)
      ms.push(performance.now() - t)
    }
    const size = Array.isArray(points) ? `${points.length} points` : `${points.days.length} days, ${points.top_tracks.length} top tracks`
    results.queries.push({ name, size, ...summary(ms) })
    log(`${name}: ${results.queries.at(-1).medianMs} ms median`)
  }
  history.close()
  const worker = await openWorkerHistory(path)
  for (const [i, [, query]] of list.entries()) {
    for (let k = 0; k < 3; k++) await query(worker)
    const ms = []
    for (let k = 0; k < WORKER_REPS; k++) {
      const t = performance.now()
      await query(worker)
      ms.push(performance.now() - t)
    }
    results.queries[i].worker = summary(ms)
  }
  await worker.close()
}

/**
 * prune(): production prunes every hour, so each call drops one hour of raw
 * events (and yesterday's listener keys). After a stop of a day or more, the
 * first prune drops a day at once. Both, from the oldest events on.
 */
async function prunes () {
  const history = new SqliteHistory(path)
  const keysBefore = dayOf(END) - DAY_MS
  const run = (count, step, from) => {
    const ms = []
    const deleted = []
    for (let k = 1; k <= count; k++) {
      const t = performance.now()
      const pruned = history.prune(from + k * step, keysBefore)
      ms.push(performance.now() - t)
      deleted.push(pruned.plays + pruned.listens)
    }
    return { ...summary(ms), eventsPerCall: Math.round(deleted.reduce((a, b) => a + b, 0) / count) }
  }
  results.prune = {
    hour: run(24, HOUR_MS, START),
    day: run(10, DAY_MS, START + DAY_MS)
  }
  history.close()
  log('prune measured')
}

function printTable () {
  const f = results.fill
  const m = results.machine
  console.log(`\nListening history bench (${m.cores} x ${m.cpu}, node ${m.node}, SQLite ${m.sqlite}, load ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end), ${results.totalSeconds} s`)
  console.log(`\nFill: ${f.plays.toLocaleString('en')} plays + ${f.listens.toLocaleString('en')} listens in ${f.batches.toLocaleString('en')} batches of ~${f.eventsPerBatch}, synchronous=${args.synchronous}`)
  console.log(`  ${f.wallSeconds} s wall, ${f.eventsPerSecondWall.toLocaleString('en')} events/s (generation included), ${f.eventsPerSecondInRecord.toLocaleString('en')} events/s inside record()`)
  console.log(`  by tenth of the fill, events/s in record(): ${f.tenths.map(t => t.eventsPerSecond.toLocaleString('en')).join(', ')}`)
  console.log(`  size: ${f.size.dbMb} MB + ${f.size.walMb} MB WAL = ${f.size.bytesPerPlay} bytes/play; checkpointed ${f.size.afterCheckpointMb} MB (${f.size.bytesPerPlayAfterCheckpoint} bytes/play)`)
  console.log(`  tables and indexes: ${f.size.tables.map(t => `${t.name} ${t.mb} MB`).join(', ')}`)
  console.log('\nOne record() batch on the filled database:')
  for (const b of results.batchCost) console.log(`  ${String(b.events).padStart(5)} events, synchronous=${b.synchronous.padEnd(6)}  median ${b.medianMs} ms, p99 ${b.p99Ms} ms (${b.eventsPerSecond.toLocaleString('en')} events/s)`)
  console.log(`\nDashboard queries (target < ${TARGET_MS} ms):`)
  const header = ['query', 'result', 'runs', 'median ms', 'p99 ms', 'worker median', 'worker p99', 'target']
  const rows = results.queries.map(q => [q.name, q.size, q.runs, q.medianMs, q.p99Ms, q.worker.medianMs, q.worker.p99Ms, q.worker.p99Ms < TARGET_MS ? 'met' : 'MISSED'])
  for (const [name, p] of Object.entries(results.prune)) {
    rows.push([`prune, one ${name} of raw events`, `${p.eventsPerCall.toLocaleString('en')} events`, p.runs, p.medianMs, p.p99Ms, '', '', p.p99Ms < TARGET_MS ? 'met' : 'MISSED'])
  }
  const cells = [header, ...rows].map(r => r.map(String))
  const widths = header.map((_, i) => Math.max(...cells.map(r => r[i].length)))
  for (const [i, r] of cells.entries()) {
    console.log('  ' + r.map((c, k) => (k < 2 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join('  '))
    if (i === 0) console.log('  ' + widths.map(w => '-'.repeat(w)).join('  '))
  }
}
