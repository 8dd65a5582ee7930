import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'

// One JSON line per request; a readable format only when a person is watching.
const logger = process.stdout.isTTY
  ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } }
  : true

let app: Awaited<ReturnType<typeof buildApp>>
try {
  app = await buildApp({ logger })
} catch (err) {
  // Most often a bad environment variable: env-schema's message names it.
  console.error(`ephemeral-audio: cannot start: ${(err as Error).message}`)
  process.exit(1)
}

closeWithGrace({ delay: app.config.shutdownGraceMs }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'closing: finishing running responses')
  await app.close()
})

try {
  await app.listen({ port: app.config.port, host: app.config.host })
} catch (err) {
  app.log.fatal({ err }, 'could not start listening')
  process.exit(1)
}
