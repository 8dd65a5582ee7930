import { Type, type TSchema } from 'typebox'
import type { ErrorBody } from './error.js'

/**
 * Response schemas in Fastify's per-media-type form: Fastify serialises the
 * body with `schema` (fast-json-stringify, so undeclared fields never leave the
 * service) and @fastify/swagger copies the description, headers and example
 * into the OpenAPI document as they are.
 */

export const JSON_TYPE = 'application/json'

type Headers = Record<string, TSchema>

/** A JSON reply whose body is the named shared schema (a `$ref`, so clients get a named type). */
export function jsonResponse (description: string, schemaId: string, example: unknown, headers?: Headers) {
  return {
    description,
    ...(headers === undefined ? {} : { headers }),
    content: { [JSON_TYPE]: { schema: Type.Ref(schemaId), example } }
  }
}

/** An error reply: always the `Error` shape, with an example of this status. */
export function errorResponse (description: string, example: ErrorBody, headers?: Headers) {
  return jsonResponse(description, 'Error', example, headers)
}

/** Sent by @fastify/rate-limit on every reply of a limited route (POST /degrade unless DEGRADE_RATE_LIMIT=0). */
export const rateLimitHeaders = {
  'x-ratelimit-limit': Type.Integer({ minimum: 0, description: 'Plays allowed per second for this client and track', examples: [8] }),
  'x-ratelimit-remaining': Type.Integer({ minimum: 0, description: 'Plays left in the current second', examples: [7] }),
  'x-ratelimit-reset': Type.Integer({ minimum: 0, description: 'Seconds until the budget is refilled', examples: [1] })
}

export const retryAfterHeaders = {
  ...rateLimitHeaders,
  'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before the next play of this track', examples: [1] })
}

/** A 503 for disk trouble: when to try again. */
export const retryLaterHeaders = {
  'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before trying again', examples: [60] })
}

/** A 401: how to authenticate (RFC 9110 §11.6.1). */
export const wwwAuthenticateHeaders = {
  'www-authenticate': Type.String({ description: 'The scheme to use; `error="invalid_token"` when a token was given but is wrong', examples: ['Bearer realm="ephemeral-audio"'] })
}
