import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import bearerAuth from '@fastify/bearer-auth'
import { createHash, timingSafeEqual } from 'node:crypto'
import { TrackError } from '../../lib/track-error.js'
import resetRoutes from './reset.js'
import trackAdminRoutes from './tracks.js'
import backupRoutes from './backup.js'
import tokenRoutes from './token.js'
import historyRoutes from './history.js'

const UNAUTHORIZED = 401
const REALM = 'Bearer realm="ephemeral-audio"'

const digest = (token: string) => createHash('sha256').update(token).digest()

/**
 * The admin routes, in a scope of their own: every route registered here
 * needs `Authorization: Bearer <one of ADMIN_TOKEN>`; listener routes stay
 * open. Tokens are compared as SHA-256 digests in constant time (bearer-auth's
 * own comparison returns early on a length mismatch), and never logged.
 */
const admin: FastifyPluginAsyncTypebox = async (fastify) => {
  const tokens = fastify.config.adminTokens.map(digest)

  fastify.addHook('onRequest', async () => {
    if (tokens.length === 0) throw new TrackError(403, 'EA_ADMIN_DISABLED', 'Admin routes are disabled: set ADMIN_TOKEN to enable them')
  })
  await fastify.register(bearerAuth, {
    keys: [],
    // RFC 6749's parsing: the scheme is case-insensitive.
    specCompliance: 'rfc6749',
    auth: (key: string) => {
      const given = digest(key)
      let ok = false
      for (const token of tokens) ok = timingSafeEqual(given, token) || ok
      return ok
    },
    errorResponse: () => ({ statusCode: UNAUTHORIZED, error: 'Unauthorized', message: 'A valid admin token is required: Authorization: Bearer <ADMIN_TOKEN>', code: 'EA_UNAUTHORIZED' }),
    verifyErrorLogLevel: 'info'
  })
  fastify.addHook('onSend', async (request, reply) => {
    if (reply.statusCode !== UNAUTHORIZED) return
    reply.header('www-authenticate', request.headers.authorization === undefined ? REALM : `${REALM}, error="invalid_token"`)
  })

  await fastify.register(resetRoutes)
  await fastify.register(trackAdminRoutes)
  await fastify.register(backupRoutes)
  await fastify.register(tokenRoutes)
  await fastify.register(historyRoutes)
}

export default admin
