import fp from 'fastify-plugin'
import { readFileSync } from 'node:fs'

const UNSUPPORTED_MEDIA_TYPE = 415
/** Files the service itself needs open beyond its connections: journal, metadata writes, track handles. */
const RESERVED_FILES = 512
const FALLBACK_MAX_CONNECTIONS = 10_000

/** The soft limit on open files (Linux), or undefined where /proc does not say. */
export function openFileLimit (limits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limits, 'utf8').split('\n').find(l => l.startsWith('Max open files'))
    const soft = Number(line?.split(/\s{2,}/)[1])
    return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined
  } catch {
    return undefined
  }
}

export function defaultMaxConnections (fileLimit: number | undefined): number {
  return fileLimit === undefined ? FALLBACK_MAX_CONNECTIONS : Math.max(64, fileLimit - RESERVED_FILES)
}

/**
 * What a client may demand of the server: a whole request (headers and body)
 * within REQUEST_TIMEOUT, at most MAX_CONNECTIONS sockets so connections can
 * never take the files a play needs, and JSON bodies in UTF-8 only (RFC 8259).
 * Downloads and live events are responses, which these limits do not touch.
 */
export default fp(async function requestLimitsPlugin (fastify) {
  const { requestTimeoutMs, maxConnections } = fastify.config
  const server = fastify.server
  server.requestTimeout = requestTimeoutMs
  server.headersTimeout = Math.min(requestTimeoutMs, 15_000)
  server.maxConnections = maxConnections > 0 ? maxConnections : defaultMaxConnections(openFileLimit())

  fastify.addHook('onRequest', async (request, reply) => {
    const type = request.headers['content-type']
    if (type === undefined || !/^\s*application\/([\w.+-]+\+)?json\b/i.test(type)) return
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1]
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      return await reply.code(UNSUPPORTED_MEDIA_TYPE).send({
        statusCode: UNSUPPORTED_MEDIA_TYPE,
        error: 'Unsupported Media Type',
        message: `JSON bodies must be UTF-8; this one says charset=${charset}`,
        code: 'EA_UNSUPPORTED_CHARSET'
      })
    }
  })
}, { name: 'request-limits', dependencies: ['config'] })
