import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import bearerAuth from '@fastify/bearer-auth'
import { createHash, timingSafeEqual } from 'node:crypto'
import { Type } from 'typebox'
import { errorResponse, wwwAuthenticateHeaders } from '../schemas/responses.js'

const UNAUTHORIZED = 401
const REALM = 'Bearer realm="ephemeral-audio"'

const digest = (token: string) => createHash('sha256').update(token).digest()

const metricsExample = [
  '# HELP ephemeral_audio_plays_total Plays recorded (acknowledged, durable in the journal)',
  '# TYPE ephemeral_audio_plays_total counter',
  'ephemeral_audio_plays_total 42',
  ''
].join('\n')

export const unauthorizedMetrics = { statusCode: UNAUTHORIZED, error: 'Unauthorized', message: 'A valid metrics token is required: Authorization: Bearer <METRICS_TOKEN>', code: 'EA_UNAUTHORIZED' }

/**
 * GET /metrics for Prometheus, in a scope of its own: when METRICS_TOKEN is
 * set, it needs `Authorization: Bearer <METRICS_TOKEN>` (compared as SHA-256
 * digests in constant time, as the admin routes do); otherwise it is open.
 */
const metricsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { metrics, config } = fastify
  if (config.metricsToken !== '') {
    const token = digest(config.metricsToken)
    await fastify.register(bearerAuth, {
      keys: [],
      specCompliance: 'rfc6749',
      auth: (key: string) => timingSafeEqual(digest(key), token),
      errorResponse: () => unauthorizedMetrics,
      verifyErrorLogLevel: 'info'
    })
    fastify.addHook('onSend', async (request, reply) => {
      if (reply.statusCode !== UNAUTHORIZED) return
      reply.header('www-authenticate', request.headers.authorization === undefined ? REALM : `${REALM}, error="invalid_token"`)
    })
  }

  fastify.get('/metrics', {
    schema: {
      operationId: 'getMetrics',
      tags: ['metrics'],
      summary: 'Prometheus metrics',
      description: 'The service\'s metrics in the Prometheus text format 0.0.4: requests and their latency by route and status, plays, listens, bytes streamed, play, journal-commit and checkpoint latencies, track-cache hits and misses, live listeners, tracks, each track\'s overall degradation, and the process and Node.js metrics (process_*, nodejs_*). Needs `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set; open otherwise.',
      headers: Type.Object({
        authorization: Type.Optional(Type.String({ description: '`Bearer <METRICS_TOKEN>`, when METRICS_TOKEN is set', examples: ['Bearer change-me'] }))
      }),
      security: [{ metricsToken: [] }, {}],
      response: {
        200: {
          description: 'The metrics, in the Prometheus text exposition format',
          content: { 'text/plain': { schema: Type.String(), example: metricsExample } }
        },
        401: errorResponse('METRICS_TOKEN is set and the token is missing or wrong', unauthorizedMetrics, wwwAuthenticateHeaders)
      }
    }
  }, async (_request, reply) => {
    const body = await metrics.registry.metrics()
    return await reply.type(metrics.registry.contentType).send(body)
  })
}

export default metricsRoutes
