import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyInstance, FastifySchemaCompiler, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify'
import type { TSchema } from 'typebox'
import { validatorCompiler } from '../../plugins/app/validator.js'

type TypedInstance = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>

/**
 * Routes whose body is a file (an upload, an archive), whatever its
 * Content-Type: nothing parses or buffers it, the handler streams
 * `request.raw` itself. In their own scope, so every other route keeps its
 * JSON parser.
 */
export async function rawBodyRoutes (fastify: TypedInstance, routes: (scope: TypedInstance) => void): Promise<void> {
  await fastify.register(async function rawBody (scope) {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => { done(null) })
    routes(scope.withTypeProvider<TypeBoxTypeProvider>())
  })
}

/**
 * The body schema of such a route documents the bytes for OpenAPI; judging
 * them is the decoder's job. Params, query and headers are validated as anywhere.
 */
export const fileBodyValidator: FastifySchemaCompiler<TSchema> = route =>
  route.httpPart === 'body' ? () => true : validatorCompiler(route)
