import fp from 'fastify-plugin'
import fastifyEnv from '@fastify/env'
import { resolve, join } from 'node:path'
import { EnvSchema, type Env } from '../../schemas/env.js'

export interface EnvPluginOptions {
  /**
   * Variables to use instead of the process environment and `.env`
   * (tests build apps on temporary folders this way).
   */
  env?: Record<string, string | number | boolean>
}

/** What the rest of the service reads: the environment with paths resolved and derived figures filled in. */
export function resolveConfig (env: Env) {
  const metadataDir = resolve(env.METADATA_DIR)
  // A real listener plays at most 1/SEGMENT_DURATION segments a second; allow
  // 4× that so a burst after a seek or a reconnect is never refused.
  const derivedLimit = Math.ceil(4 / env.SEGMENT_DURATION)
  return {
    port: env.PORT,
    host: env.HOST,
    corsOrigins: env.CORS_ORIGIN === '*' ? '*' as const : env.CORS_ORIGIN.split(',').map(s => s.trim()).filter(Boolean),
    audioDir: resolve(env.AUDIO_DIR),
    metadataDir,
    backupDir: env.BACKUP_DIR === '' ? join(metadataDir, 'originals') : resolve(env.BACKUP_DIR),
    segmentDuration: env.SEGMENT_DURATION,
    degradationRate: env.DEGRADATION_RATE,
    degradeRateLimit: env.DEGRADE_RATE_LIMIT < 0 ? derivedLimit : env.DEGRADE_RATE_LIMIT,
    bodyLimit: env.BODY_LIMIT,
    trustProxy: env.TRUST_PROXY,
    demoTrack: env.DEMO_TRACK,
    checkpointIntervalMs: Math.round(env.CHECKPOINT_INTERVAL * 1000),
    shutdownGraceMs: Math.round(env.SHUTDOWN_GRACE * 1000),
    docsEnabled: env.DOCS_ENABLED,
    eventsMaxClients: env.EVENTS_MAX_CLIENTS,
    adminToken: env.ADMIN_TOKEN,
    logLevel: env.LOG_LEVEL
  }
}

export type Config = ReturnType<typeof resolveConfig>

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export default fp<EnvPluginOptions>(async function envPlugin (fastify, opts) {
  const injected = opts.env !== undefined
  await fastify.register(fastifyEnv, {
    confKey: 'rawEnv',
    schema: EnvSchema,
    dotenv: !injected,
    env: !injected,
    data: opts.env ?? {}
  })
  fastify.decorate('config', resolveConfig(fastify.getEnvs<Env>()))
}, { name: 'config' })
