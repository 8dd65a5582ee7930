import fp from 'fastify-plugin'
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import { diskTrouble, type TrackError } from '../../lib/track-error.js'

export const FILENAME_RULE = 'a track name is a file name ending in .wav (5 to 200 characters, no /, \\ or NUL)'

// Expected while shutting down or at a capacity bound: the message is ours and safe to show.
const SERVICE_UNAVAILABLE = 503

/**
 * One JSON shape for every error, `{statusCode, error, message, code}`: ours
 * (EA_*), Fastify's (FST_*: validation, body parsing) and the plugins'.
 * Faults are logged with the request's id and never leak paths or stacks.
 */
export default fp(async function errorHandlerPlugin (fastify) {
  fastify.setErrorHandler(async (thrown: FastifyError | TrackError, request, reply) => {
    // A full or read-only disk is the operator's to fix: say so, instead of a bare 500.
    const trouble = diskTrouble(thrown)
    if (trouble !== undefined) request.log.error({ err: thrown }, 'request failed on the disk')
    const error = trouble ?? thrown
    if ('headers' in error && error.headers !== undefined) reply.headers(error.headers)
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (statusCode >= 500 && statusCode !== SERVICE_UNAVAILABLE) {
      request.log.error({ err: error }, 'request failed')
      return await reply.code(statusCode).send({ statusCode, error: 'Internal Server Error', message: 'The server could not complete the request; it has been logged.', code: 'EA_INTERNAL' })
    }
    request.log.info({ err: { message: error.message, code: error.code } }, 'request refused')
    const isValidation = 'validation' in error && error.validation !== undefined
    const badName = isValidation && error.validation?.some(v => v.instancePath === '/filename')
    return await reply.code(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      // A schema's pattern is for machines; say the rule in words.
      message: badName ? `Invalid request: ${FILENAME_RULE}` : isValidation ? `Invalid request: ${error.message}` : error.message,
      ...(badName ? { code: 'EA_BAD_FILENAME' } : error.code ? { code: error.code } : {})
    })
  })

  fastify.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    return await reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route ${request.method} ${path} not found`, code: 'EA_ROUTE_NOT_FOUND' })
  })
}, { name: 'error-handler' })
