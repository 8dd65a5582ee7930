import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { PlayJournal } from '../../lib/play-journal.js'
import { overallDegradation } from '../../lib/track-figures.js'
import type { TrackStore } from './track-store.js'
import type { TrackCache } from './track-cache.js'
import type { Degrader } from './degrader.js'
import type { HistoryStats } from './analytics.js'

export const METRIC_PREFIX = 'ephemeral_audio_'
/** The route label of a request no route matched (404s): raw URLs would make the label set unbounded. */
export const UNMATCHED_ROUTE = 'unmatched'

const STREAM_ROUTE = '/stream/:filename'
const DEGRADE_ROUTE = '/degrade/:filename'
const OK = 200
const PARTIAL = 206
/** Journal commits and plays take milliseconds; checkpoints up to seconds. */
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
const SLOW_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

interface MetricsDeps {
  tracks: TrackStore
  trackCache: TrackCache
  degrader: Degrader
  journal: PlayJournal
  ratePercent: number
  history?: () => HistoryStats
}

/**
 * The service's Prometheus metrics, on a registry of their own (several apps
 * in one process must not collide). Hot paths pay one counter increment or
 * one histogram observation; figures the service already keeps (cache
 * counters, tracks, degradation, live clients) are read at scrape time.
 */
export function createMetrics (deps: MetricsDeps) {
  const { tracks, trackCache, degrader, journal, ratePercent } = deps
  const registry = new Registry()
  // process_* and nodejs_* (CPU, memory, file descriptors, GC, event-loop lag), under their standard names.
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`

  const requests = new Counter({ name: name('http_requests_total'), help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status_code'] as const, registers })
  const requestDuration = new Histogram({ name: name('http_request_duration_seconds'), help: 'Time to answer an HTTP request (to the last byte sent), by method, route pattern and status', labelNames: ['method', 'route', 'status_code'] as const, buckets: SLOW_BUCKETS, registers })
  const plays = new Counter({ name: name('plays_total'), help: 'Plays recorded (acknowledged, durable in the journal)', registers })
  const listens = new Counter({ name: name('listens_total'), help: 'Listens: GET /stream requests from byte 0 that reach past the WAV header', registers })
  const streamBytes = new Counter({ name: name('stream_bytes_total'), help: 'Bytes of audio sent by GET /stream (200 and 206 responses sent in full)', registers })
  const degradeDuration = new Histogram({ name: name('degrade_duration_seconds'), help: 'Time to answer a recorded play (POST /degrade, 200): journal commit and rendering', buckets: FAST_BUCKETS, registers })
  const journalCommit = new Histogram({ name: name('journal_commit_seconds'), help: 'Write and fdatasync of one batch of play records in the journal', buckets: FAST_BUCKETS, registers })
  const checkpointDuration = new Histogram({ name: name('checkpoint_duration_seconds'), help: 'Duration of a successful checkpoint (audio and metadata made durable, journal retired)', buckets: SLOW_BUCKETS, registers })
  new Counter({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('cache_hits_total'),
    help: 'Stream reads served from the in-memory track cache',
    registers,
    collect () { this.reset(); this.inc(trackCache.stats.hits) }
  })
  new Counter({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('cache_misses_total'),
    help: 'Stream reads of tracks not in the in-memory track cache (read from disk)',
    registers,
    collect () { this.reset(); this.inc(trackCache.stats.misses) }
  })
  let eventsClients = (): number => 0
  new Gauge({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('events_clients'),
    help: 'Live listeners connected to GET /events',
    registers,
    collect () { this.set(eventsClients()) }
  })
  new Gauge({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('tracks'),
    help: 'Tracks ready to be served',
    registers,
    collect () { this.set(tracks.list().length) }
  })
  new Gauge({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('track_overall_degradation'),
    help: 'Percent (0-100) of a track silenced, as overall_degradation in GET /tracks',
    labelNames: ['track'] as const,
    registers,
    collect () {
      // Reset first: a deleted track's series disappears.
      this.reset()
      for (const track of tracks.list()) this.set({ track: track.filename }, overallDegradation(track.meta.segment_play_counts, ratePercent))
    }
  })

  const history = deps.history ?? (() => ({ pending: 0, failures: 0, dropped: 0 }))
  new Gauge({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('history_pending_events'),
    help: 'Plays and listens noted and not yet written to the listening history (written about once a second)',
    registers,
    collect () { this.set(history().pending) }
  })
  new Counter({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('history_write_failures_total'),
    help: 'Batches the listening history database refused (kept and tried again); alert when it rises',
    registers,
    collect () { this.reset(); this.inc(history().failures) }
  })
  new Counter({ // eslint-disable-line no-new -- registered; read at scrape time
    name: name('history_dropped_events_total'),
    help: 'Events the listening history lost because its database refused writes for too long',
    registers,
    collect () { this.reset(); this.inc(history().dropped) }
  })

  const onPlay = (): void => { plays.inc() }
  const onCheckpoint = ({ seconds }: { seconds: number }): void => { checkpointDuration.observe(seconds) }
  degrader.events.on('play', onPlay)
  degrader.events.on('checkpoint', onCheckpoint)
  journal.onCommit = (seconds) => { journalCommit.observe(seconds) }

  return {
    registry,
    /** Counted by the stream route, which decides what a listen is. */
    listens,

    /** The live-events route says how many clients it holds. */
    countEventsClients (count: () => number): void {
      eventsClients = count
    },

    /** One call per answered request (an onResponse hook). */
    observeResponse (request: FastifyRequest, reply: FastifyReply): void {
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE
      const status = reply.statusCode
      const labels = { method: request.method, route, status_code: status }
      const seconds = reply.elapsedTime / 1000
      requests.inc(labels)
      requestDuration.observe(labels, seconds)
      if (route === STREAM_ROUTE && request.method === 'GET' && (status === OK || status === PARTIAL) && reply.raw.writableFinished) {
        streamBytes.inc(Number(reply.getHeader('content-length') ?? 0))
      } else if (route === DEGRADE_ROUTE && status === OK) {
        degradeDuration.observe(seconds)
      }
    },

    /** Stop observing the degrader and the journal (on close). */
    detach (): void {
      degrader.events.off('play', onPlay)
      degrader.events.off('checkpoint', onCheckpoint)
      journal.onCommit = undefined
    }
  }
}

export type Metrics = ReturnType<typeof createMetrics>

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export default fp(async function metricsPlugin (fastify) {
  const { tracks, trackCache, degrader, journalLeftovers, config, analytics } = fastify
  const metrics = createMetrics({ tracks, trackCache, degrader, journal: journalLeftovers.journal, ratePercent: config.degradationRate, history: analytics.stats })
  fastify.decorate('metrics', metrics)
  fastify.addHook('onResponse', async (request, reply) => { metrics.observeResponse(request, reply) })
  fastify.addHook('onClose', async () => { metrics.detach() })
}, { name: 'metrics', dependencies: ['config', 'track-store', 'track-cache', 'degrader', 'analytics'] })
