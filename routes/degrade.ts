import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { FilenameParams } from '../schemas/track.js'
import { DegradeRequestSchema, degradeResultExample, type DegradeResult } from '../schemas/degrade.js'
import { errorExamples } from '../schemas/error.js'
import { errorResponse, jsonResponse, rateLimitHeaders, retryAfterHeaders, retryLaterHeaders } from '../schemas/responses.js'
import { perClientAndTrack } from '../plugins/external/rate-limit.js'

const degrade: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, degrader } = fastify
  // Plays are small JSON bodies only: without a text parser, anything else is a 415.
  fastify.removeContentTypeParser('text/plain')
  const rateLimit = perClientAndTrack(config)

  fastify.post('/degrade/:filename', {
    bodyLimit: config.bodyLimit,
    config: { rateLimit },
    schema: {
      operationId: 'degradeSegment',
      tags: ['degrade'],
      summary: 'Record a play of a segment, degrading it for good',
      description: 'The player calls this once per segment it plays. The play is durable when the reply is 200: the segment\'s count is on disk and its audio re-rendered with more of it silenced.',
      params: FilenameParams,
      body: DegradeRequestSchema,
      response: {
        200: jsonResponse('The play is recorded: on disk, and heard in the audio from now on', 'DegradeResult', degradeResultExample, rateLimitHeaders),
        400: errorResponse('The file name or the body is invalid, or segment_index is past the last segment', errorExamples.segmentOutOfRange),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        413: errorResponse('The body is larger than BODY_LIMIT', errorExamples.bodyTooLarge),
        415: errorResponse('The body is not JSON', errorExamples.unsupportedMediaType),
        409: errorResponse('The track\'s file kept being replaced while the play waited for it', { ...errorExamples.trackChanged, message: 'ephemeral-demo.wav keeps changing on disk; try again' }),
        422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
        429: errorResponse('Too many plays of this track from this client in the last second (DEGRADE_RATE_LIMIT)', errorExamples.tooManyRequests, retryAfterHeaders),
        503: errorResponse('The disk is full, read-only or not writable: the play could not be made durable and is not acknowledged', errorExamples.diskFull, retryLaterHeaders)
      }
    }
  }, async (request): Promise<DegradeResult> => {
    const index = request.body.segment_index
    const { track, ...result } = await degrader.play(request.params.filename, index)
    return { success: true, filename: track.filename, segment_index: index, ...result }
  })
}

export default degrade
