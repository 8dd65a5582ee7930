import fp from 'fastify-plugin'
import { join } from 'node:path'
import type { FastifyRequest } from 'fastify'
import { DAY_MS, dayOf } from '../../lib/history/history-store.js'
import { openWorkerHistory, type AsyncHistory } from '../../lib/history/worker-history.js'
import { HistoryRecorder } from '../../lib/history/recorder.js'
import { ListenerKeys } from '../../lib/history/listener-key.js'
import { bundledCountryDatabase, countryResolver, loadCountryDatabase, type CountryOf } from '../../lib/history/country.js'
import type { PlayRecord } from '../../lib/play-journal.js'
import { sum } from '../../lib/track-figures.js'
import type { Track } from './track-store.js'
import { clientIp } from '../external/rate-limit.js'

/** How often raw events past ANALYTICS_RETENTION_DAYS (and yesterday's listener keys) are pruned. */
const PRUNE_EVERY_MS = 3_600_000

export interface Analytics {
  /** False with ANALYTICS=off: nothing is recorded and the history routes answer 404. */
  readonly enabled: boolean
  /** Why the history is not being recorded although ANALYTICS=on (its database cannot be opened); the routes answer 503. */
  readonly unavailable?: string
  /** Note a listen of `track` by the client of `request`. */
  listen: (track: Track, request: FastifyRequest) => void
  /** Plays of `track` the journal replayed at start-up (acknowledged before a stop, maybe never recorded). */
  replayed: (track: Track, records: readonly PlayRecord[]) => void
  /** Everything noted so far, in the database. */
  flush: () => Promise<void>
  /** Run a query after everything noted so far is in the database. */
  query: <T>(work: (history: AsyncHistory) => Promise<T>) => Promise<T>
  /** For /metrics: events waiting, batches the database refused, events dropped while it refused. */
  stats: () => HistoryStats
}

export interface HistoryStats { pending: number, failures: number, dropped: number }

declare module 'fastify' {
  interface FastifyInstance {
    analytics: Analytics
  }
}

// Summed once per baseline (it changes only with a new identity), not once per play: a long track has thousands of segments.
const befores = new WeakMap<readonly number[], number>()

/** Plays the track had before its history began: the Flask service's counts for an adopted track, else none. */
function beforeOf (track: Track): number {
  const baseline = track.meta.baseline_play_counts
  let before = befores.get(baseline)
  if (before === undefined) befores.set(baseline, before = sum(baseline))
  return before
}

const OFF: Analytics = {
  enabled: false,
  listen: () => {},
  replayed: () => {},
  flush: async () => {},
  query: async () => { throw new Error('analytics are off') },
  stats: () => ({ pending: 0, failures: 0, dropped: 0 })
}

/**
 * The listening history (lib/history): plays and listens with their times,
 * in SQLite in METADATA_DIR, written by a worker in batches. Plays are saved
 * there before the journal generations holding them are retired, and the
 * journal's leftovers are replayed into it at start-up, so a crash loses no
 * acknowledged play from the history either.
 */
export default fp(async function analyticsPlugin (fastify) {
  const { config, degrader, log, clock } = fastify
  if (!config.analytics) {
    fastify.decorate('analytics', OFF)
    return
  }
  const path = join(config.metadataDir, 'history.sqlite')
  let history: AsyncHistory
  try {
    history = await openWorkerHistory(path)
  } catch (err) {
    // Plays matter more than their history: serve without it, and say why wherever it is asked for.
    const reason = (err as Error).message
    log.error({ err, path }, 'the listening history cannot be opened; the service runs without recording it')
    fastify.decorate('analytics', { ...OFF, unavailable: reason })
    return
  }
  const recorder = new HistoryRecorder({ history, log })
  const keys = new ListenerKeys()
  let countryOf: CountryOf = () => undefined
  if (config.analyticsCountry) {
    const path = config.analyticsCountryDb ?? bundledCountryDatabase()
    const lookup = await loadCountryDatabase(path).catch((err: unknown) => {
      log.warn({ err, path }, 'the IP-to-country database cannot be read; countries come from proxy headers only')
      return undefined
    })
    countryOf = countryResolver({ trustProxy: config.trustProxy, lookup })
  }

  degrader.events.on('recorded', ({ track, segment, count, overall, at }) => {
    recorder.play({ trackId: track.id, filename: track.filename, segment, count, at, overall, before: beforeOf(track) })
  })
  degrader.events.on('renewed', ({ old, next, what }) => {
    // An engine change keeps the track's life; a reset starts a new one (by its new identity, at its first event).
    if (what === 'engine change') recorder.after(async h => await h.continueLife(old.id, next.id)).catch(() => {})
  })
  degrader.events.on('removed', ({ filename }) => {
    recorder.after(async h => await h.forget(filename)).catch((err: unknown) => log.error({ err, filename }, 'could not forget a deleted track\'s history'))
  })
  degrader.beforeRetire(async () => await recorder.flush())

  const prune = (): void => {
    const now = clock()
    recorder.after(async h => await h.prune(now - config.analyticsRetentionDays * DAY_MS, dayOf(now) - DAY_MS))
      .then(pruned => { if (pruned.plays + pruned.listens > 0) log.info(pruned, 'pruned listening history past its retention') })
      .catch((err: unknown) => log.error({ err }, 'pruning the listening history failed; will retry'))
  }
  const pruning = setInterval(prune, PRUNE_EVERY_MS)
  pruning.unref()
  fastify.addHook('onReady', async () => { prune() })

  fastify.decorate('analytics', {
    enabled: true,
    listen (track: Track, request: FastifyRequest) {
      const at = clock()
      const userAgent = request.headers['user-agent'] ?? ''
      const address = clientIp(request, config.trustProxy)
      const country = countryOf(address, request.headers)
      recorder.listen({
        trackId: track.id,
        filename: track.filename,
        at,
        listener: keys.keyOf(address, userAgent, at),
        ...(country === undefined ? {} : { country }),
        before: beforeOf(track)
      })
    },
    replayed (track: Track, records: readonly PlayRecord[]) {
      for (const r of records) {
        recorder.play({ trackId: track.id, filename: track.filename, segment: r.segment, count: r.count, at: r.at ?? clock(), before: beforeOf(track) })
      }
    },
    flush: async () => await recorder.flush(),
    query: async <T>(work: (h: AsyncHistory) => Promise<T>) => await recorder.after(work),
    stats: () => ({ pending: recorder.pending, failures: recorder.failures, dropped: recorder.dropped })
  })

  // Closed after the degrader's last checkpoint, which saves the last plays into it.
  fastify.addHook('onClose', async () => { clearInterval(pruning) })
  degrader.afterClose(async () => {
    await recorder.close()
    await history.close()
  })
}, { name: 'analytics', dependencies: ['config', 'degrader', 'lifecycle'] })
