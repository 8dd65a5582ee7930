import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import type { Test } from 'tap'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sourceLoader, startService } from './service-process.js'
import { writeTestWav } from './fixtures/wav-fixtures.js'
import { buildTestApp } from './helper.js'
import { expectedSegment, readMetadata, readSegment } from './segment-io.js'

/** Fresh folders per test (not t.testdir(), which every subtest of this file would share and wipe). */
async function folders (t: Test) {
  const root = await mkdtemp(join(tmpdir(), 'ephemeral-server-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const dirs = { audioDir: join(root, 'audio'), metadataDir: join(root, 'metadata') }
  await mkdir(dirs.audioDir)
  return { ...dirs, env: { AUDIO_DIR: dirs.audioDir, METADATA_DIR: dirs.metadataDir } }
}

t.test('a bad environment variable stops the service at boot with a message naming it', async t => {
  const loader = sourceLoader()
  const server = fileURLToPath(new URL('../server.ts', import.meta.url))
  const run = spawnSync(process.execPath, [...loader, server], { env: { PATH: process.env.PATH, PORT: '99999' }, encoding: 'utf8', timeout: 90_000 })
  t.equal(run.status, 1)
  t.match(run.stderr, /cannot start: .*PORT/)
})

t.test('SIGTERM lets a running response finish, then exits 0', async t => {
  const { env, audioDir } = await folders(t)
  await writeTestWav(join(audioDir, 'long.wav'), { frames: 8000 * 120 })
  const service = await startService({ ...env, SHUTDOWN_GRACE: '10' })
  const res = await fetch(`${service.url}/stream/long.wav`)
  const reader = res.body!.getReader()
  await reader.read()
  service.child.kill('SIGTERM')
  let received = 0
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += chunk.value.length
  t.ok(received > 0, 'the body kept coming after SIGTERM')
  const { code } = await service.exited
  t.equal(code, 0)
  t.ok(service.logs.some(l => l.includes('"statusCode":200')), 'one log line per request, with its status')
})

t.test('kill -9 in the middle of a burst of plays: after restart every acknowledged play is counted and every segment is as rendered', async t => {
  const { env, audioDir, metadataDir } = await folders(t)
  const wav = await writeTestWav(join(audioDir, 'crash.wav'), { frames: 8000 * 4, sampleRate: 8000 })
  const service = await startService({ ...env, DEGRADE_RATE_LIMIT: '0', CHECKPOINT_INTERVAL: '0.05' })
  const SEGMENTS = 8
  const acknowledged = new Array<number>(SEGMENTS).fill(0)
  const sent = new Array<number>(SEGMENTS).fill(0)
  let killed = false
  let total = 0
  const worker = async (w: number) => {
    for (let i = 0; !killed; i++) {
      const segment = (w + i) % SEGMENTS
      sent[segment]!++
      try {
        const res = await fetch(`${service.url}/degrade/crash.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })
        if (res.status === 200) {
          const body = await res.json() as { play_count: number }
          acknowledged[segment] = Math.max(acknowledged[segment]!, body.play_count)
          if (++total === 300) { killed = true; service.child.kill('SIGKILL') }
        }
      } catch { /* the connection died with the service */ }
    }
  }
  await Promise.all(Array.from({ length: 16 }, async (_, w) => await worker(w)))
  t.equal((await service.exited).signal, 'SIGKILL')
  t.ok(total >= 300)

  const { app } = await buildTestApp(t, { dirs: { audioDir, metadataDir } })
  const counts = (await app.inject('/stats/crash.wav')).json().segment_play_counts as number[]
  const meta = await readMetadata(metadataDir, 'crash.wav')
  for (let s = 0; s < SEGMENTS; s++) {
    t.ok(counts[s]! >= acknowledged[s]!, `segment ${s}: ${counts[s]} counted ≥ ${acknowledged[s]} acknowledged`)
    t.ok(counts[s]! <= sent[s]!, `segment ${s}: no more than were sent`)
    t.ok((await readSegment(wav, s)).equals(expectedSegment(wav, meta, s, counts[s]!, 1)), `segment ${s} audio equals its rendering at ${counts[s]}`)
  }
  t.same((await readdir(join(metadataDir, 'journal'))).length, 1, 'replayed generations retired; one fresh journal file')
})
