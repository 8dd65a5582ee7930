import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { buildApp } from '../app.js'
import { writeTestWav, type TestWavOptions, type TestWav } from './fixtures/wav-fixtures.js'

export type TapTest = Test

export interface TestAppOptions {
  /** Environment variables on top of the test defaults. */
  env?: Record<string, string | number | boolean>
  /** WAV files to write into AUDIO_DIR before the app starts, by file name. */
  tracks?: Record<string, TestWavOptions>
  /** Reuse folders (to restart a service on the same data). */
  dirs?: { audioDir: string, metadataDir: string }
  /** The app's clock (milliseconds since the epoch), for the times plays and listens are recorded at. */
  clock?: () => number
}

export interface TestApp {
  app: Awaited<ReturnType<typeof buildApp>>
  audioDir: string
  metadataDir: string
  tracks: Record<string, TestWav>
}

/** Build the app as production does, on temporary folders, closed when the test ends. */
export async function buildTestApp (t: Test, options: TestAppOptions = {}): Promise<TestApp> {
  // Our own folder rather than t.testdir(): tap removes that before later teardowns run, and the app writes on close.
  const root = options.dirs === undefined ? await mkdtemp(join(tmpdir(), 'ephemeral-test-')) : undefined
  const audioDir = options.dirs?.audioDir ?? join(root as string, 'audio')
  const metadataDir = options.dirs?.metadataDir ?? join(root as string, 'metadata')
  await mkdir(audioDir, { recursive: true })
  const tracks: Record<string, TestWav> = {}
  for (const [name, wav] of Object.entries(options.tracks ?? {})) {
    tracks[name] = await writeTestWav(join(audioDir, name), wav)
  }
  const app = await buildApp({
    env: {
      AUDIO_DIR: audioDir,
      METADATA_DIR: metadataDir,
      DEMO_TRACK: false,
      LOG_LEVEL: 'silent',
      CHECKPOINT_INTERVAL: 3600,
      ...options.env
    },
    ...(options.clock === undefined ? {} : { clock: options.clock })
  })
  t.teardown(async () => {
    await app.close()
    if (root !== undefined) await rm(root, { recursive: true, force: true })
  })
  await app.ready()
  return { app, audioDir, metadataDir, tracks }
}

/** Listen on an ephemeral loopback port; returns the base URL. */
export async function listen (app: TestApp['app']): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return `http://127.0.0.1:${address.port}`
}
