/**
 * The listening history keeps every acknowledged play through a kill -9:
 * plays are written to it in batches, off the request path, and the journal
 * generations holding them are retired only once the history has them; what
 * the kill catches in between is replayed from the journal at the next start.
 */
import t from 'tap'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { startService } from '../service-process.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { buildTestApp } from '../helper.js'

const TOKEN = 'crash-token'

t.test('kill -9 during a burst of plays and listens: after restart the history holds exactly the plays counted', async t => {
  const root = await mkdtemp(join(tmpdir(), 'history-crash-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const audioDir = join(root, 'audio')
  const metadataDir = join(root, 'metadata')
  await mkdir(audioDir)
  await writeTestWav(join(audioDir, 'crash.wav'), { frames: 8000 * 4, sampleRate: 8000 })
  // Checkpoints every 50 ms: the kill lands among history flushes, checkpoints and journal retirements.
  const service = await startService({ AUDIO_DIR: audioDir, METADATA_DIR: metadataDir, DEGRADE_RATE_LIMIT: '0', CHECKPOINT_INTERVAL: '0.05' })
  const SEGMENTS = 8
  const acknowledged = new Array<number>(SEGMENTS).fill(0)
  let killed = false
  let total = 0
  const player = async (w: number) => {
    for (let i = 0; !killed; i++) {
      const segment = (w + i) % SEGMENTS
      try {
        if (i % 10 === 0) await (await fetch(`${service.url}/stream/crash.wav`)).arrayBuffer()
        const res = await fetch(`${service.url}/degrade/crash.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })
        if (res.status === 200) {
          acknowledged[segment] = Math.max(acknowledged[segment]!, ((await res.json()) as { play_count: number }).play_count)
          if (++total === 400) { killed = true; service.child.kill('SIGKILL') }
        }
      } catch { /* the connection died with the service */ }
    }
  }
  await Promise.all(Array.from({ length: 16 }, async (_, w) => await player(w)))
  t.equal((await service.exited).signal, 'SIGKILL')

  const { app } = await buildTestApp(t, { dirs: { audioDir, metadataDir }, env: { ADMIN_TOKEN: TOKEN } })
  const counts = (await app.inject('/stats/crash.wav')).json().segment_play_counts as number[]
  await app.analytics.flush()
  const db = new DatabaseSync(join(metadataDir, 'history.sqlite'), { readOnly: true })
  t.teardown(() => db.close())
  const recorded = new Map((db.prepare('SELECT segment, count(*) AS n, max(count) AS top FROM plays GROUP BY segment').all() as Array<{ segment: number, n: number, top: number }>)
    .map(r => [Number(r.segment), { n: Number(r.n), top: Number(r.top) }]))
  for (let s = 0; s < SEGMENTS; s++) {
    t.ok(counts[s]! >= acknowledged[s]!, `segment ${s}: ${counts[s]} counted ≥ ${acknowledged[s]} acknowledged`)
    t.same(recorded.get(s), { n: counts[s], top: counts[s] }, `segment ${s}: the history has each of its ${counts[s]} plays once`)
  }
  const history = (await app.inject({ url: '/tracks/crash.wav/history?bucket=day', headers: { authorization: `Bearer ${TOKEN}` } })).json() as Array<{ plays: number }>
  t.equal(history.reduce((sum, p) => sum + p.plays, 0), counts.reduce((a, b) => a + b, 0), 'the rollups agree with the plays')
})
