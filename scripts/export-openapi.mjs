/**
 * Writes openapi.json at the root of the repository from the built service
 * (run through `npm run openapi:export`, which builds first), so client
 * authors can generate a client without running the service. The document
 * depends on the code only: the app is built on empty temporary folders.
 * test/openapi/export.test.ts fails when the committed file is out of date.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../dist/app.js'
import { openapiJson } from '../dist/plugins/external/swagger.js'

const target = fileURLToPath(new URL('../openapi.json', import.meta.url))
const dir = await mkdtemp(join(tmpdir(), 'ephemeral-openapi-'))
try {
  const app = await buildApp({
    env: { AUDIO_DIR: join(dir, 'audio'), METADATA_DIR: join(dir, 'metadata'), DEMO_TRACK: false, DOCS_ENABLED: true, LOG_LEVEL: 'silent' }
  })
  await app.ready()
  await writeFile(target, openapiJson(app))
  await app.close()
  console.log(`wrote ${target}`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
