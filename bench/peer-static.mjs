// The peer: a plain Fastify instance serving AUDIO_DIR with @fastify/static, defaults untouched.
import Fastify from 'fastify'
import fastifyStatic from '@fastify/static'

const app = Fastify({ logger: false })
await app.register(fastifyStatic, { root: process.env.AUDIO_DIR, prefix: '/stream/' })
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
