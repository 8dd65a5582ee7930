import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { Type } from 'typebox'
import { engineInfo } from '../lib/engines/index.js'
import { engineIdOf, engineParamsOf } from '../lib/engines/track-render.js'
import { TrackError } from '../lib/track-error.js'
import { segmentSpan } from '../lib/wav-format.js'
import { wavHeader } from '../lib/wav-writer.js'
import type { TrackMetadata } from '../lib/track-metadata.js'
import { renderedSegment } from '../plugins/app/pristine.js'
import { perClientAndTrack } from '../plugins/external/rate-limit.js'
import { errorExamples } from '../schemas/error.js'
import { errorResponse, rateLimitHeaders, retryAfterHeaders } from '../schemas/responses.js'
import { FilenameParams } from '../schemas/track.js'
import { engineFromQuery } from './engine-choice.js'

/** At most this much audio per preview: enough to judge an engine, bounded work per request. */
const MAX_PREVIEW_SECONDS = 30

const PreviewQuery = Type.Object({
  engine: Type.Optional(Type.String({ description: 'An engine id from `GET /engines`; default the track\'s. Its parameters may follow under their own names (default the track\'s, if it is the track\'s engine, else the engine\'s defaults).', examples: ['tape'] })),
  plays: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Render every segment as if it had this many plays; default: each segment\'s real count', examples: [50] })),
  from: Type.Optional(Type.Integer({ minimum: 0, description: 'First segment (default 0)', examples: [0] })),
  to: Type.Optional(Type.Integer({ minimum: 1, description: 'One past the last segment (default: 30 s after `from`, or the end)', examples: [20] }))
}, { additionalProperties: true })

/**
 * How the track would sound worn by another engine, or after more plays:
 * rendered from its pristine copy, with no side effect (nothing counted,
 * nothing written).
 */
const preview: FastifyPluginAsyncTypebox = async (fastify) => {
  const { tracks, wav, config } = fastify
  fastify.get('/preview/:filename', {
    // A HEAD would render the audio to throw it away.
    exposeHeadRoute: false,
    config: { rateLimit: perClientAndTrack(config) },
    schema: {
      operationId: 'previewTrack',
      tags: ['tracks'],
      summary: 'Hear a track worn by any engine, at any number of plays',
      description: `A WAV of segments [from, to) (at most ${MAX_PREVIEW_SECONDS} s) rendered from the pristine copy as if each had \`plays\` plays (or its real count), by \`engine\` with its parameters. Nothing is counted or written. The ETag is a hash of every input, so a cached preview is reused. Rate-limited as plays are.`,
      params: FilenameParams,
      querystring: PreviewQuery,
      response: {
        200: {
          description: 'The preview',
          headers: { etag: Type.String({ examples: ['"pv-3c9ed622f67420329dfb5165"'] }), ...rateLimitHeaders },
          content: { 'audio/wav': { schema: { type: 'string', format: 'binary', description: 'A PCM WAV in the track\'s format' } } }
        },
        304: { description: 'The cached preview (If-None-Match) is still this one', type: 'null' },
        400: errorResponse('Unknown engine, a parameter out of bounds, or a segment range that is empty, past the end or too long', { statusCode: 400, error: 'Bad Request', message: 'There is no decay engine "vinyl"; the engines are dropout, tape, wow, fidelity, noise, dissolve, worn', code: 'EA_BAD_ENGINE' }),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        429: errorResponse('More previews from this client for this track than DEGRADE_RATE_LIMIT allows per second', errorExamples.tooManyRequests, retryAfterHeaders)
      }
    }
  }, async (request, reply) => {
    const track = await tracks.get(request.params.filename)
    const m = track.meta
    const choice = engineFromQuery(request.query, { id: engineIdOf(m), params: engineParamsOf(m) })
    if (choice === undefined) throw new Error('unreachable: a fallback engine is always given')
    const perSegment = m.segment_duration
    const from = request.query.from ?? 0
    const to = request.query.to ?? Math.min(m.total_segments, from + Math.floor(MAX_PREVIEW_SECONDS / perSegment))
    if (from >= to || to > m.total_segments) {
      throw new TrackError(400, 'EA_BAD_RANGE', `segments [${from}, ${to}) are not within the track's ${m.total_segments} segments`)
    }
    if ((to - from) * perSegment > MAX_PREVIEW_SECONDS + 1e-9) {
      throw new TrackError(400, 'EA_BAD_RANGE', `a preview is at most ${MAX_PREVIEW_SECONDS} s: ${to - from} segments of ${perSegment} s is more`)
    }
    const plays = request.query.plays
    const counts = plays === undefined ? [...m.segment_play_counts] : m.segment_play_counts.map(() => plays)
    const rendering: TrackMetadata = { ...m, engine: choice.id, engine_params: choice.params, segment_play_counts: counts }

    const version = engineInfo(choice.id)?.version ?? 0
    const inputs = JSON.stringify([m.track_id, choice.id, version, choice.params, config.degradationRate, from, to, counts.slice(Math.max(0, from - 1), to)])
    const etag = `"pv-${createHash('sha256').update(inputs).digest('base64url').slice(0, 27)}"`
    reply.header('etag', etag).header('cache-control', 'no-cache')
    if (request.headers['if-none-match']?.split(',').some(tag => tag.trim() === etag) === true) return await reply.code(304).send(null)

    const first = segmentSpan(m.layout, m.segment_duration, from)
    const last = segmentSpan(m.layout, m.segment_duration, to - 1)
    const dataBytes = last.byteOffset + last.byteLength - first.byteOffset
    const header = wavHeader(m.layout.format, dataBytes)
    const pristine = await wav.openForRead(track.pristinePath)
    // One segment in memory at a time, rendered as the client reads.
    async function * body () {
      try {
        yield header
        for (let index = from; index < to; index++) yield await renderedSegment(wav, pristine, rendering, index, counts, config.degradationRate)
      } finally {
        await pristine.close()
      }
    }
    return await reply.type('audio/wav').header('content-length', header.length + dataBytes).send(Readable.from(body()))
  })
}

export default preview
