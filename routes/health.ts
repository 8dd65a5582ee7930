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
      description: 'Whether the service runs, the degradation settings in force, and the state of the library: tracks ready, still being prepared, and files not served with the reason. Used as the health check.',
      response: { 200: jsonResponse('The service runs', 'ServiceInfo', serviceInfoExample) }
    }
  }, async () => ({
    status: 'running' as const,
    service: 'Ephemeral Audio Decay System' as const,
    degradation_rate: fastify.config.degradationRate,
    segment_duration: fastify.config.segmentDuration,
    version: pkg.version,
    tracks: fastify.tracks.list().length,
    tracks_preparing: fastify.tracks.preparing,
    tracks_excluded: [...fastify.tracks.excluded].map(([filename, reason]) => ({ filename, reason }))
  }))
}

export default health
