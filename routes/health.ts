import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { jsonResponse } from '../schemas/responses.js'
import { serviceInfoExample } from '../schemas/track.js'
import pkg from '../package.json' with { type: 'json' }

const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      operationId: 'getServiceInfo',
      tags: ['service'],
      summary: 'Service status',
      description: 'Whether the service runs, and the degradation settings in force. Used as the health check.',
      response: { 200: jsonResponse('The service runs', 'ServiceInfo', serviceInfoExample) }
    }
  }, async () => ({
    status: 'running' as const,
    service: 'Ephemeral Audio Decay System' as const,
    degradation_rate: fastify.config.degradationRate,
    segment_duration: fastify.config.segmentDuration,
    version: pkg.version,
    tracks: fastify.library.list().length
  }))
}

export default health
