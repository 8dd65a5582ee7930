import fp from 'fastify-plugin'
import sensible from '@fastify/sensible'

/** `fastify.httpErrors` for expected failures, so every error has one shape. */
export default fp(async function sensiblePlugin (fastify) {
  await fastify.register(sensible)
}, { name: 'sensible' })
