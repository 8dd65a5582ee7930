import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AdminHeaders } from '../../schemas/reset.js'
import { errorExamples } from '../../schemas/error.js'
import { errorResponse, wwwAuthenticateHeaders } from '../../schemas/responses.js'

const NO_CONTENT = 204

/** Lets a client (the admin page) check a token when it is typed, before it acts with it. */
const token: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/admin/token', {
    schema: {
      operationId: 'checkAdminToken',
      tags: ['admin'],
      summary: 'Check an admin token (admin)',
      description: 'Does nothing but the admin routes\' check: 204 when the token is one of ADMIN_TOKEN, 401 when it is missing or wrong, 403 when the admin routes are off.',
      headers: AdminHeaders,
      security: [{ adminToken: [] }],
      response: {
        204: { description: 'The token is valid', type: 'null' },
        401: errorResponse('Missing or wrong admin token', errorExamples.unauthorized, wwwAuthenticateHeaders),
        403: errorResponse('Admin routes are disabled: ADMIN_TOKEN is not set', errorExamples.adminDisabled)
      }
    }
  }, async (_request, reply) => await reply.code(NO_CONTENT).send(null))
}

export default token
