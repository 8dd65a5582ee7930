import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { FilenameParams } from '../schemas/track.js'
import { DegradeRequestSchema, type DegradeResult } from '../schemas/degrade.js'
import { clientAddress } from '../plugins/external/rate-limit.js'

const errorRef = Type.Ref('Error')
const ONE_SECOND = 1000

const degrade: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, library, degrader } = fastify
  // Plays are small JSON bodies only: without a text parser, anything else is a 415.
  fastify.removeContentTypeParser('text/plain')
  const rateLimit = config.degradeRateLimit > 0
    ? {
        max: config.degradeRateLimit,
        timeWindow: ONE_SECOND,
        // Per client and per track: one listener plays one track at a time.
        keyGenerator: (request: { params: unknown } & Parameters<typeof clientAddress>[0]) =>
          `${clientAddress(request, config.trustProxy)}|${(request.params as { filename?: string }).filename ?? ''}`
      }
    : false

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
      response: { 200: Type.Ref('DegradeResult'), 400: errorRef, 404: errorRef, 413: errorRef, 415: errorRef, 422: errorRef, 429: errorRef }
    }
  }, async (request): Promise<DegradeResult> => {
    const track = await library.find(request.params.filename)
    const index = request.body.segment_index
    const result = await degrader.play(track, index)
    return { success: true, filename: track.filename, segment_index: index, ...result }
  })
}

export default degrade
