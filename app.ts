import Fastify, { LogController, type FastifyError, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import envPlugin, { type EnvPluginOptions } from './plugins/external/env.js'
import corsPlugin from './plugins/external/cors.js'
import sensiblePlugin from './plugins/external/sensible.js'
import rateLimitPlugin from './plugins/external/rate-limit.js'
import swaggerPlugin from './plugins/external/swagger.js'
import wavIoPlugin from './plugins/app/wav-io.js'
import metadataStorePlugin from './plugins/app/metadata-store.js'
import lockManagerPlugin from './plugins/app/lock-manager.js'
import libraryPlugin, { TrackError } from './plugins/app/library.js'
import trackCachePlugin from './plugins/app/track-cache.js'
import degraderPlugin from './plugins/app/degrader.js'
import trackResetPlugin from './plugins/app/track-reset.js'
import healthRoutes from './routes/health.js'
import trackRoutes from './routes/tracks.js'
import streamRoutes from './routes/stream.js'
import degradeRoutes from './routes/degrade.js'
import resetRoutes from './routes/reset.js'
import { ResetResultSchema } from './schemas/reset.js'
import peaksRoutes from './routes/peaks.js'
import eventsRoutes from './routes/events.js'
import playerRoutes from './routes/player.js'
import { ErrorSchema } from './schemas/error.js'
import { DegradeRequestSchema, DegradeResultSchema } from './schemas/degrade.js'
import { TrackSchema, TrackListSchema, TrackStatsSchema, ServiceInfoSchema } from './schemas/track.js'
import { AudioWaveformSchema, SegmentDegradationSchema, PeaksWithDegradationSchema } from './schemas/peaks.js'
import { PlayEventSchema } from './schemas/events.js'

export type AppOptions = EnvPluginOptions

/** The whole service as one plugin: external plugins, then ours, then routes. */
export const app = fp<AppOptions>(async function ephemeralAudio (fastify, opts) {
  // Body schemas are not coerced ("3" is not a segment index); params and query strings are.
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)
  for (const schema of [ErrorSchema, TrackSchema, TrackListSchema, TrackStatsSchema, ServiceInfoSchema, DegradeRequestSchema, DegradeResultSchema, ResetResultSchema]) {
    fastify.addSchema(schema)
  }
  for (const schema of [AudioWaveformSchema, SegmentDegradationSchema, PeaksWithDegradationSchema, PlayEventSchema]) {
    fastify.addSchema(schema)
  }

  await fastify.register(envPlugin, opts)
  fastify.log.level = fastify.config.logLevel
  await fastify.register(sensiblePlugin)
  await fastify.register(corsPlugin)
  await fastify.register(rateLimitPlugin)
  // Before the routes: it documents the routes registered after it.
  await fastify.register(swaggerPlugin)

  await fastify.register(wavIoPlugin)
  await fastify.register(metadataStorePlugin)
  await fastify.register(lockManagerPlugin)
  await fastify.register(libraryPlugin)
  await fastify.register(trackCachePlugin)
  await fastify.register(degraderPlugin)
  await fastify.register(trackResetPlugin)

  let closing = false
  fastify.addHook('preClose', async () => { closing = true })
  fastify.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request')
    // A response that outlived the start of a shutdown leaves a keep-alive socket that would hold close() until it times out.
    if (closing) setImmediate(() => fastify.server.closeIdleConnections())
  })
  fastify.setErrorHandler(errorHandler)
  fastify.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route ${request.method} ${request.url.split('?')[0] ?? ''} not found`, code: 'EA_ROUTE_NOT_FOUND' })
  })

  await fastify.register(healthRoutes)
  await fastify.register(trackRoutes)
  await fastify.register(streamRoutes)
  await fastify.register(degradeRoutes)
  await fastify.register(resetRoutes)
  await fastify.register(peaksRoutes)
  await fastify.register(eventsRoutes)
  await fastify.register(playerRoutes)
}, { name: 'ephemeral-audio' })

function errorHandler (error: FastifyError | TrackError, request: FastifyRequest, reply: FastifyReply) {
  const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
  if (statusCode >= 500 && statusCode !== SERVICE_UNAVAILABLE) {
    request.log.error({ err: error }, 'request failed')
    // Never leak internals (paths, stack traces) to the client.
    return reply.code(statusCode).send({ statusCode, error: 'Internal Server Error', message: 'The server could not complete the request; it has been logged.', code: 'EA_INTERNAL' })
  }
  request.log.info({ err: { message: error.message, code: error.code } }, 'request refused')
  const body: Record<string, unknown> = {
    statusCode,
    error: statusText(statusCode),
    message: 'validation' in error && error.validation !== undefined ? `Invalid request: ${error.message}` : error.message
  }
  if (error.code) body.code = error.code
  return reply.code(statusCode).send(body)
}

// Expected while shutting down or at a capacity bound: the message is ours and safe to show.
const SERVICE_UNAVAILABLE = 503

function statusText (statusCode: number): string {
  return STATUS_TEXT[statusCode] ?? 'Error'
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  503: 'Service Unavailable'
}

/** Fastify options shared by the server and the tests, so both validate and coerce alike. */
export function fastifyOptions (logger: FastifyServerOptions['logger'] = false): FastifyServerOptions {
  return {
    logger,
    // Long downloads on slow phones must not be cut; idle sockets still are.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // One log line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 1024 }
  }
}

/** Build a ready-to-listen service. */
export async function buildApp (opts: AppOptions & { logger?: FastifyServerOptions['logger'] } = {}) {
  const { logger, ...appOptions } = opts
  const fastify = Fastify(fastifyOptions(logger)).withTypeProvider<TypeBoxTypeProvider>()
  await fastify.register(app, appOptions)
  return fastify
}
