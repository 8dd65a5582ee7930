import fp from 'fastify-plugin'
import swagger, { type FastifyDynamicSwaggerOptions, type SwaggerTransform } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, FastifySchema } from 'fastify'
import pkg from '../../package.json' with { type: 'json' }

export const DOCS_PATH = '/docs'
export const OPENAPI_JSON_PATH = '/openapi.json'
export const OPENAPI_YAML_PATH = '/openapi.yaml'

/**
 * The document's fixed parts. The paths and components come from the routes'
 * schemas alone, never from the environment, so every instance (and the
 * committed openapi.json) describes the same API.
 */
const openapi: FastifyDynamicSwaggerOptions['openapi'] = {
  // 3.1: its Schema Object is JSON Schema 2020-12, which is what TypeBox writes.
  openapi: '3.1.0',
  info: {
    title: 'Ephemeral Audio',
    version: pkg.version,
    summary: pkg.description,
    description: 'WAV tracks that wear out as they are listened to. A player lists the tracks, streams one with HTTP Range requests and records each segment it plays with `degradeSegment`; every play silences a little more of that segment, for good.',
    license: { name: 'MIT', identifier: 'MIT' }
  },
  // Relative: the reference at /docs calls the service that serves it.
  servers: [{ url: '/', description: 'The service that serves this document' }],
  // Only the operations that say so need credentials.
  security: [],
  components: {
    securitySchemes: {
      adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN the service was started with (admin operations only)' },
      metricsToken: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN the service was started with (GET /metrics, when set)' }
    }
  },
  tags: [
    { name: 'service', description: 'Service status and settings' },
    { name: 'tracks', description: 'The tracks and their degradation' },
    { name: 'stream', description: 'The audio itself' },
    { name: 'degrade', description: 'Recording plays' },
    { name: 'events', description: 'Plays as they happen' },
    { name: 'player', description: 'The built-in web player' },
    { name: 'metrics', description: 'Prometheus metrics for monitoring' },
    { name: 'admin', description: 'Operations that need the ADMIN_TOKEN' }
  ]
}

/**
 * Fastify answers HEAD for every GET route. The document shows HEAD only where
 * a client has a use for it: on downloads (a 2xx response with a binary body),
 * where it reads the size and validators without fetching the audio.
 */
const transform: SwaggerTransform = ({ schema, url, route }) => {
  if (route.method !== 'HEAD') return { schema, url }
  if (!servesBinary(schema)) return { schema: { ...schema, hide: true }, url }
  const { response, ...get } = schema
  const headResponses = Object.fromEntries(Object.entries((response ?? {}) as Record<string, ResponseSchema>).map(([status, r]) => [status, {
    description: r.description,
    headers: r.headers,
    // A HEAD response never has a body, whatever GET would send.
    type: 'null'
  }]))
  return {
    url,
    schema: {
      ...get,
      // @fastify/swagger names it `<operationId>-head`; clients want camelCase.
      operationId: `${String(schema.operationId).replace(/-head$/, '')}Head`,
      summary: `${String(schema.summary)}: headers only`,
      description: 'The headers the GET request would send (Content-Length, ETag, Last-Modified, Accept-Ranges, Content-Range), without the body. A HEAD request does not count as a listen.',
      response: headResponses
    }
  }
}

/**
 * A body schema with an `$id` stays inline in the route (TypeBox's compiler
 * validates it without Fastify's shared schemas) and @fastify/swagger copies it
 * inline. Replace such copies, recognised by their title (our titles are their
 * $id), by a $ref to the component, so clients get one named type.
 */
function referenceNamedSchemas<D extends { components?: { schemas?: Record<string, unknown> }, paths?: Record<string, unknown> }> (document: D): D {
  const names = new Set(Object.keys(document.components?.schemas ?? {}))
  for (const pathItem of Object.values(document.paths ?? {}) as Array<Record<string, Operation>>) {
    for (const operation of Object.values(pathItem)) {
      for (const media of Object.values(operation.requestBody?.content ?? {})) {
        const title = media.schema?.title
        if (typeof title === 'string' && names.has(title)) media.schema = { $ref: `#/components/schemas/${title}` }
      }
    }
  }
  return document
}

interface Operation {
  requestBody?: { content?: Record<string, { schema?: { title?: unknown, $ref?: string } }> }
}

interface ResponseSchema {
  description?: string
  headers?: Record<string, unknown>
  content?: Record<string, { schema?: { format?: unknown } }>
}

function servesBinary (schema: FastifySchema): boolean {
  const responses = Object.entries((schema.response ?? {}) as Record<string, ResponseSchema>)
  return responses.some(([status, r]) => status.startsWith('2') &&
    Object.values(r.content ?? {}).some(media => media.schema?.format === 'binary'))
}

/**
 * The OpenAPI document, generated from the routes' schemas, at /openapi.json
 * and /openapi.yaml, and an interactive reference at /docs. DOCS_ENABLED=false
 * leaves all of it out (the routes answer 404).
 */
export default fp(async function swaggerPlugin (fastify) {
  if (!fastify.config.docsEnabled) return
  await fastify.register(swagger, {
    openapi,
    exposeHeadRoutes: true,
    transform,
    transformObject: (document) => 'openapiObject' in document ? referenceNamedSchemas(document.openapiObject) : document.swaggerObject,
    // Shared schemas keep their $id as component name (Track, Error...), so generated clients get named types.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await fastify.register(swaggerUi, { routePrefix: DOCS_PATH })

  fastify.get(OPENAPI_JSON_PATH, { schema: { hide: true } }, async () => fastify.swagger())
  fastify.get(OPENAPI_YAML_PATH, { schema: { hide: true } }, async (_request, reply) =>
    await reply.type('application/yaml').send(fastify.swagger({ yaml: true })))
}, { name: 'swagger', dependencies: ['config'] })

/** The document as committed at the root of the repository: stable key order, two-space indent, final newline. */
export function openapiJson (fastify: FastifyInstance): string {
  return `${JSON.stringify(fastify.swagger(), null, 2)}\n`
}
