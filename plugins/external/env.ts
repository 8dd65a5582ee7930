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
    decayEngine: env.DECAY_ENGINE,
    degradeRateLimit: env.DEGRADE_RATE_LIMIT < 0 ? derivedLimit : env.DEGRADE_RATE_LIMIT,
    bodyLimit: env.BODY_LIMIT,
    trustProxy: env.TRUST_PROXY,
    demoTrack: env.DEMO_TRACK,
    checkpointIntervalMs: Math.round(env.CHECKPOINT_INTERVAL * 1000),
    shutdownGraceMs: Math.round(env.SHUTDOWN_GRACE * 1000),
    docsEnabled: env.DOCS_ENABLED,
    eventsMaxClients: env.EVENTS_MAX_CLIENTS,
    requestTimeoutMs: Math.round(env.REQUEST_TIMEOUT * 1000),
    uploadMaxBytes: env.UPLOAD_MAX_BYTES,
    maxConnections: env.MAX_CONNECTIONS,
    /** One token, or several separated by commas (one per person or machine, so one can be revoked alone). */
    adminTokens: env.ADMIN_TOKEN.split(',').map(s => s.trim()).filter(Boolean),
    /** Empty: GET /metrics is open (a private network, or a proxy that does not forward it). */
    metricsToken: env.METRICS_TOKEN.trim(),
    analytics: env.ANALYTICS === 'on',
    analyticsCountry: env.ANALYTICS_COUNTRY === 'on',
    analyticsCountryDb: env.ANALYTICS_COUNTRY_DB === '' ? undefined : resolve(env.ANALYTICS_COUNTRY_DB),
    analyticsRetentionDays: env.ANALYTICS_RETENTION_DAYS,
    store: env.STORE,
    databaseUrl: env.DATABASE_URL,
    sharedDir: resolve(env.SHARED_DIR),
    nodeDir: resolve(env.NODE_DIR),
    logLevel: env.LOG_LEVEL
  }
}

export type Config = ReturnType<typeof resolveConfig>

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/

/**
 * Ajv's coercion reads numbers as JavaScript does: `0x50` is 80, `1e-9` and
 * `Infinity` pass. A setting is written in decimal or refused, naming it.
 */
export function checkDecimalNumbers (raw: Record<string, unknown>): void {
  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    const type = (schema as { type?: string }).type
    if (type !== 'number' && type !== 'integer') continue
    const value = raw[name]
    if (value === undefined || value === '') continue
    const ok = typeof value === 'number' ? Number.isFinite(value) : DECIMAL.test(String(value).trim())
    if (!ok) throw new Error(`env/${name} must be a plain decimal number, got ${JSON.stringify(value)}`)
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
  // After @fastify/env: it has loaded .env into process.env by now.
  checkDecimalNumbers(opts.env ?? process.env)
  fastify.decorate('config', resolveConfig(fastify.getEnvs<Env>()))
}, { name: 'config' })
