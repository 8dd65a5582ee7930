import fp from 'fastify-plugin'
import cors from '@fastify/cors'

/**
 * A player on another origin must be able to seek (send Range/If-Range) and
 * read the headers that describe what came back.
 */
export default fp(async function corsPlugin (fastify) {
  const origins = fastify.config.corsOrigins
  await fastify.register(cors, {
    origin: origins === '*' ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
    allowedHeaders: ['Content-Type', 'Range', 'If-Range', 'If-None-Match', 'If-Modified-Since'],
    exposedHeaders: ['Content-Range', 'Accept-Ranges', 'Content-Length', 'ETag', 'Last-Modified', 'Retry-After'],
    maxAge: 600
  })
}, { name: 'cors', dependencies: ['config'] })
