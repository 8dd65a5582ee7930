import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DAY_MS } from '../../lib/history/history-store.js'
import { TrackError } from '../../lib/track-error.js'
import { AdminHeaders } from '../../schemas/reset.js'
import { errorExamples } from '../../schemas/error.js'
import { errorResponse, jsonResponse, wwwAuthenticateHeaders } from '../../schemas/responses.js'
import { FilenameParams } from '../../schemas/track.js'
import { AnalyticsQuerySchema, HistoryQuerySchema, analyticsExample, historyExample } from '../../schemas/history.js'

/** A period asked for without `from`. */
const DEFAULT_DAYS = 30
/** Hourly points at most this many days at once (about 2,200 points). */
const MAX_HOURLY_DAYS = 93
const MAX_TOP = 10

const offExample = { statusCode: 404, error: 'Not Found', message: 'Listening analytics are off (ANALYTICS=off): nothing is recorded', code: 'EA_ANALYTICS_OFF' }
const unavailableExample = { statusCode: 503, error: 'Service Unavailable', message: 'The listening history is not being recorded: history database /data/metadata/history.sqlite: file is not a database. Move the file aside (the service starts a new one) or restore it from a backup, then restart.', code: 'EA_ANALYTICS_UNAVAILABLE' }
const periodExample = { statusCode: 400, error: 'Bad Request', message: 'from (2026-12-01T00:00:00.000Z) must be before to (2026-11-01T00:00:00.000Z)', code: 'EA_BAD_PERIOD' }

/** The period [from, to) of a query, in ms; `to` defaults to now and `from` to DEFAULT_DAYS before it. */
function periodOf (query: { from?: string | undefined, to?: string | undefined }, now: number): { from: number, to: number } {
  const to = query.to === undefined ? now : Date.parse(query.to)
  const from = query.from === undefined ? to - DEFAULT_DAYS * DAY_MS : Date.parse(query.from)
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new TrackError(400, 'EA_BAD_PERIOD', 'from and to must be RFC 3339 times, such as 2026-11-01T00:00:00Z')
  if (from >= to) throw new TrackError(400, 'EA_BAD_PERIOD', `from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`)
  return { from, to }
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** The listening history (admin): a track's curve over time, and the library's figures. */
const history: FastifyPluginAsyncTypebox = async (fastify) => {
  const { analytics, tracks, clock } = fastify
  const common = { headers: AdminHeaders, security: [{ adminToken: [] }] }
  const adminErrors = {
    401: errorResponse('Missing or wrong admin token', errorExamples.unauthorized, wwwAuthenticateHeaders),
    403: errorResponse('Admin routes are disabled: ADMIN_TOKEN is not set', errorExamples.adminDisabled)
  }
  const requireAnalytics = (): void => {
    if (analytics.unavailable !== undefined) {
      throw new TrackError(503, 'EA_ANALYTICS_UNAVAILABLE', `The listening history is not being recorded: ${analytics.unavailable}. Move the file aside (the service starts a new one) or restore it from a backup, then restart.`)
    }
    if (!analytics.enabled) throw new TrackError(404, 'EA_ANALYTICS_OFF', offExample.message)
  }

  fastify.get('/tracks/:filename/history', {
    exposeHeadRoute: false,
    schema: {
      ...common,
      operationId: 'getTrackHistory',
      tags: ['admin'],
      summary: 'A track\'s plays, listens and degradation over time (admin)',
      description: `By hour or UTC day, for the period [from, to) (default the last ${DEFAULT_DAYS} days; hourly at most ${MAX_HOURLY_DAYS} days). \`life\` reaches the track's lives before its resets. Buckets with nothing recorded are left out; \`overall_degradation\` is the percent silenced at the end of each bucket: the wearing-away curve.`,
      params: FilenameParams,
      querystring: HistoryQuerySchema,
      response: {
        200: jsonResponse('The points, oldest first', 'TrackHistory', historyExample()),
        400: errorResponse('A period that is not one, or too many hourly points', periodExample),
        ...adminErrors,
        404: errorResponse('No such track, or analytics are off', errorExamples.trackNotFound),
        503: errorResponse('The history database cannot be opened (the service runs without it)', unavailableExample)
      }
    }
  }, async (request) => {
    requireAnalytics()
    const track = await tracks.get(request.params.filename)
    const { from, to } = periodOf(request.query, clock())
    const bucket = request.query.bucket ?? 'day'
    if (bucket === 'hour' && to - from > MAX_HOURLY_DAYS * DAY_MS) {
      throw new TrackError(400, 'EA_BAD_PERIOD', `Hourly history covers at most ${MAX_HOURLY_DAYS} days at once; ask for bucket=day or a shorter period`)
    }
    const points = await analytics.query(async h => await h.history(track.filename, track.id, { from, to, bucket, back: request.query.life ?? 0 }))
    return points.map(p => ({ ...p, t: iso(p.t) }))
  })

  fastify.get('/admin/analytics', {
    exposeHeadRoute: false,
    schema: {
      ...common,
      operationId: 'getLibraryAnalytics',
      tags: ['admin'],
      summary: 'How the library was listened to (admin)',
      description: `For the period [from, to) (default the last ${DEFAULT_DAYS} days): totals, top tracks, plays, listens and distinct listeners per UTC day, listens by country, and the hours of the week (UTC) when people listen. From hourly rollups, kept for good.`,
      querystring: AnalyticsQuerySchema,
      response: {
        200: jsonResponse('The figures', 'LibraryAnalytics', analyticsExample()),
        400: errorResponse('A period that is not one', periodExample),
        ...adminErrors,
        404: errorResponse('Analytics are off', offExample),
        503: errorResponse('The history database cannot be opened (the service runs without it)', unavailableExample)
      }
    }
  }, async (request) => {
    requireAnalytics()
    const { from, to } = periodOf(request.query, clock())
    const a = await analytics.query(async h => await h.analytics(from, to, request.query.top ?? MAX_TOP))
    return {
      from: iso(from),
      to: iso(to),
      totals: a.totals,
      top_tracks: a.top_tracks.map(t => ({ ...t, started_at: iso(t.started_at) })),
      days: a.days.map(d => ({ ...d, day: iso(d.day) })),
      countries: a.countries,
      clock: a.clock
    }
  })
}

export default history
