import Fastify, { LogController, type FastifyHttpOptions, type FastifyServerOptions } from 'fastify'
import type { Server } from 'node:http'
import fp from 'fastify-plugin'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { validatorCompiler } from './plugins/app/validator.js'
import envPlugin, { type EnvPluginOptions } from './plugins/external/env.js'
import corsPlugin from './plugins/external/cors.js'
import sensiblePlugin from './plugins/external/sensible.js'
import rateLimitPlugin from './plugins/external/rate-limit.js'
import swaggerPlugin from './plugins/external/swagger.js'
import wavIoPlugin from './plugins/app/wav-io.js'
import metadataStorePlugin from './plugins/app/metadata-store.js'
import lockManagerPlugin from './plugins/app/lock-manager.js'
import trackStorePlugin from './plugins/app/track-store.js'
import errorHandlerPlugin from './plugins/app/error-handler.js'
import requestLimitsPlugin from './plugins/app/request-limits.js'
import trackCachePlugin from './plugins/app/track-cache.js'
import degraderPlugin from './plugins/app/degrader.js'
import recoveryPlugin from './plugins/app/recovery.js'
import lifecyclePlugin from './plugins/app/lifecycle.js'
import metricsPlugin from './plugins/app/metrics.js'
import analyticsPlugin from './plugins/app/analytics.js'
import healthRoutes from './routes/health.js'
import trackRoutes from './routes/tracks.js'
import streamRoutes from './routes/stream.js'
import degradeRoutes from './routes/degrade.js'
import adminRoutes from './routes/admin/index.js'
import { ResetResultSchema } from './schemas/reset.js'
import { RestoreResultSchema } from './schemas/backup.js'
import peaksRoutes from './routes/peaks.js'
import eventsRoutes from './routes/events.js'
import playerRoutes from './routes/player.js'
import adminPageRoutes from './routes/admin-page.js'
import { ErrorSchema } from './schemas/error.js'
import { DegradeRequestSchema, DegradeResultSchema } from './schemas/degrade.js'
import { TrackSchema, TrackListSchema, TrackStatsSchema, ServiceInfoSchema, TrackChangeSchema } from './schemas/track.js'
import { AudioWaveformSchema, SegmentDegradationSchema, PeaksWithDegradationSchema } from './schemas/peaks.js'
import { PlayEventSchema } from './schemas/events.js'
import { EngineSchema, EngineListSchema } from './schemas/engine.js'
import engineRoutes from './routes/engines.js'
import previewRoutes from './routes/preview.js'
import metricsRoutes from './routes/metrics.js'
import { HistorySchema, AnalyticsSchema } from './schemas/history.js'

export type AppOptions = EnvPluginOptions & {
  /** Milliseconds since the epoch, for the times plays and listens are recorded at; tests inject one. */
  clock?: () => number
}

declare module 'fastify' {
  interface FastifyInstance {
    clock: () => number
  }
}

/** The whole service as one plugin: external plugins, then ours, then routes. */
export const app = fp<AppOptions>(async function ephemeralAudio (fastify, opts) {
  // Body schemas are not coerced ("3" is not a segment index); params and query strings are.
  fastify.setValidatorCompiler(validatorCompiler)
  // Named schemas: shared by the routes and named components in the OpenAPI document.
  for (const schema of [
    ErrorSchema, TrackSchema, TrackListSchema, TrackStatsSchema, ServiceInfoSchema, DegradeRequestSchema, DegradeResultSchema,
    ResetResultSchema, RestoreResultSchema, TrackChangeSchema, AudioWaveformSchema, SegmentDegradationSchema, PeaksWithDegradationSchema, PlayEventSchema,
    EngineSchema, EngineListSchema, HistorySchema, AnalyticsSchema
  ]) fastify.addSchema(schema)

  fastify.decorate('clock', opts.clock ?? Date.now)
  await fastify.register(envPlugin, opts)
  fastify.log.level = fastify.config.logLevel
  await fastify.register(requestLimitsPlugin)
  await fastify.register(sensiblePlugin)
  await fastify.register(corsPlugin)
  await fastify.register(rateLimitPlugin)
  // Before the routes: it documents the routes registered after it.
  await fastify.register(swaggerPlugin)

  await fastify.register(wavIoPlugin)
  await fastify.register(metadataStorePlugin)
  await fastify.register(lockManagerPlugin)
  await fastify.register(trackStorePlugin)
  await fastify.register(trackCachePlugin)
  await fastify.register(degraderPlugin)
  await fastify.register(lifecyclePlugin)
  await fastify.register(analyticsPlugin)
  await fastify.register(recoveryPlugin)
  // Its onResponse hook times every route registered below.
  await fastify.register(metricsPlugin)

  let closing = false
  fastify.addHook('preClose', async () => { closing = true })
  fastify.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request')
    // A response that outlived the start of a shutdown leaves a keep-alive socket that would hold close() until it times out.
    if (closing) setImmediate(() => fastify.server.closeIdleConnections())
  })
  await fastify.register(errorHandlerPlugin)

  await fastify.register(healthRoutes)
  await fastify.register(trackRoutes)
  await fastify.register(engineRoutes)
  await fastify.register(previewRoutes)
  await fastify.register(streamRoutes)
  await fastify.register(degradeRoutes)
  await fastify.register(adminRoutes)
  await fastify.register(peaksRoutes)
  await fastify.register(eventsRoutes)
  await fastify.register(playerRoutes)
  await fastify.register(adminPageRoutes)
  await fastify.register(metricsRoutes)
}, { name: 'ephemeral-audio' })

/** Fastify options shared by the server and the tests, so both validate and coerce alike. */
export function fastifyOptions (logger: FastifyServerOptions['logger'] = false): FastifyHttpOptions<Server> {
  return {
    logger,
    // Receiving a request is bounded (REQUEST_TIMEOUT, set by request-limits);
    // long downloads on slow phones are not cut, idle sockets still are.
    requestTimeout: 30_000,
    connectionTimeout: 0,
    // How often Node checks those bounds; its default (30 s) would double them.
    http: { connectionsCheckingInterval: 1000 },
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
