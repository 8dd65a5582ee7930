import t from 'tap'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderFrames } from '../../lib/engines/segment.js'
import { engineTrackOf } from '../../lib/engines/track-render.js'
import { buildTestApp, listen } from '../helper.js'
import { readMetadata } from '../segment-io.js'
import { startService } from '../service-process.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'

const TOKEN = 'engine-token'
const admin = { authorization: `Bearer ${TOKEN}` }
const RATE = 10

/** The audio a track's file must hold: every frame rendered at once from the pristine copy at the counts in its metadata. */
async function expectedAudio (metadataDir: string, audioDir: string, filename: string) {
  const meta = await readMetadata(metadataDir, filename)
  const { dataOffset, frames, format } = meta.layout
  const pristine = (await readFile(join(metadataDir, 'originals', filename))).subarray(dataOffset, dataOffset + frames * format.blockAlign)
  const engineTrack = engineTrackOf(meta, RATE)
  if (engineTrack === undefined) throw new Error(`${filename} has no float engine`)
  const expected = renderFrames(engineTrack, { from: 0, to: frames, readFrom: 0 }, pristine)
  const actual = (await readFile(join(audioDir, filename))).subarray(dataOffset, dataOffset + frames * format.blockAlign)
  return { meta, expected, actual }
}

t.test('GET /engines lists every engine with the JSON Schema of its parameters and their defaults', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/engines')
  t.equal(res.statusCode, 200)
  const engines = res.json() as Array<{ id: string, params: { properties: Record<string, { default: number, minimum: number, maximum: number }> }, defaults: Record<string, number> }>
  t.same(engines.map(e => e.id).slice(0, 1), ['dropout'], 'dropout first: the default')
  t.ok(engines.some(e => e.id === 'wow') && engines.some(e => e.id === 'dissolve'))
  for (const engine of engines) {
    for (const [name, p] of Object.entries(engine.params.properties)) {
      t.equal(engine.defaults[name], p.default, `${engine.id}.${name} default`)
      t.ok(p.minimum <= p.default && p.default <= p.maximum, `${engine.id}.${name} within its bounds`)
    }
  }
})

t.test('plays from many clients on neighbouring segments leave exactly the whole-track rendering on disk', async t => {
  const served = await buildTestApp(t, { tracks: { 'w.wav': { frames: 8000 * 4, channels: 2 } }, env: { DECAY_ENGINE: 'wow', DEGRADATION_RATE: RATE, DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(served.app)
  const stats = (await (await fetch(`${url}/stats/w.wav`)).json()) as { engine: string, engine_params: Record<string, number> }
  t.equal(stats.engine, 'wow')
  t.ok(Object.keys(stats.engine_params).length > 0, 'the defaults, filled in')
  // 8 segments, 40 clients, each hammering neighbours: every write races the next segment's cross-fade.
  const plays = Array.from({ length: 40 }, async (_, c) => {
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${url}/degrade/w.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: (c + i) % 8 }) })
      if (res.status !== 200) t.fail(`a play answered ${res.status}`)
      await res.arrayBuffer()
    }
  })
  await Promise.all(plays)
  await served.app.degrader.checkpoint()
  const { meta, expected, actual } = await expectedAudio(served.metadataDir, served.audioDir, 'w.wav')
  t.equal(meta.segment_play_counts.reduce((a, b) => a + b, 0), 240)
  t.ok(actual.equals(expected), 'the file is the rendering at the recorded counts')
})

t.test('kill -9 in the middle of plays: after a restart every acknowledged play is kept and the audio is the rendering at those counts', async t => {
  const root = await mkdtemp(join(tmpdir(), 'ephemeral-engine-crash-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const first = { audioDir: join(root, 'audio'), metadataDir: join(root, 'metadata') }
  await mkdir(first.audioDir)
  await writeTestWav(join(first.audioDir, 'd.wav'), { frames: 8000 * 3 })
  const service = await startService({ AUDIO_DIR: first.audioDir, METADATA_DIR: first.metadataDir, DECAY_ENGINE: 'dissolve', DEGRADATION_RATE: String(RATE), DEGRADE_RATE_LIMIT: '0', CHECKPOINT_INTERVAL: '3600' })
  let acknowledged = 0
  const players = Array.from({ length: 6 }, async (_, c) => {
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${service.url}/degrade/d.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: (c + i) % 6 }) }).catch(() => undefined)
      if (res === undefined) return
      if (res.status === 200) acknowledged++
    }
  })
  await new Promise(resolve => setTimeout(resolve, 300))
  service.child.kill('SIGKILL')
  await Promise.all(players)
  await service.exited
  const again = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir }, env: { DEGRADATION_RATE: RATE } })
  const stats = (await again.app.inject('/stats/d.wav')).json() as { engine: string, segment_play_counts: number[] }
  t.equal(stats.engine, 'dissolve')
  t.ok(stats.segment_play_counts.reduce((a, b) => a + b, 0) >= acknowledged, `every acknowledged play (${acknowledged}) is counted`)
  await again.app.degrader.checkpoint()
  const { expected, actual } = await expectedAudio(first.metadataDir, first.audioDir, 'd.wav')
  t.ok(actual.equals(expected), 'the file is the rendering at the recovered counts')
})

t.test('PATCH engine: counts kept, every segment rendered again in the new character, a new ETag; bad engines are 400s in words', async t => {
  const served = await buildTestApp(t, { tracks: { 'p.wav': { frames: 8000 * 2 } }, env: { ADMIN_TOKEN: TOKEN, DEGRADATION_RATE: RATE, DEGRADE_RATE_LIMIT: 0 } })
  for (const segment of [0, 0, 1, 2, 3, 3, 3]) await served.app.inject({ method: 'POST', url: '/degrade/p.wav', payload: { segment_index: segment } })
  const etag = (await served.app.inject({ method: 'HEAD', url: '/stream/p.wav' })).headers.etag
  const res = await served.app.inject({ method: 'PATCH', url: '/tracks/p.wav', headers: admin, payload: { engine: 'dissolve', engine_params: { decaySeconds: 1 } } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { engine: 'dissolve', engine_params: { decaySeconds: 1 }, total_plays: 7 })
  t.same((await served.app.inject('/stats/p.wav')).json().segment_play_counts, [2, 1, 1, 3])
  t.not((await served.app.inject({ method: 'HEAD', url: '/stream/p.wav' })).headers.etag, etag, 'a new ETag: the bytes changed')
  const { expected, actual } = await expectedAudio(served.metadataDir, served.audioDir, 'p.wav')
  t.ok(actual.equals(expected), 'the file is the new engine\'s rendering at the same counts')

  for (const [payload, message] of [
    [{ engine: 'vinyl' }, /no decay engine "vinyl"; the engines are dropout, /],
    [{ engine: 'wow', engine_params: { wowCents: 1e6 } }, /wow's wowCents must be <= /],
    [{ engine: 'wow', engine_params: { speed: 1 } }, /wow has no parameter speed; its parameters are /],
    [{ engine: 'wow', engine_params: { constructor: 1 } }, /wow has no parameter constructor/]
  ] as const) {
    const bad = await served.app.inject({ method: 'PATCH', url: '/tracks/p.wav', headers: admin, payload })
    t.equal(bad.statusCode, 400)
    t.match(bad.json(), { code: 'EA_BAD_ENGINE', message })
  }
  t.equal((await served.app.inject('/stats/p.wav')).json().engine, 'dissolve', 'a refused change changes nothing')
})

t.test('PUT ?engine= chooses the engine of an upload; an unknown one is refused before a byte is decoded', async t => {
  const served = await buildTestApp(t, { tracks: { 'src.wav': { frames: 8000 } }, env: { ADMIN_TOKEN: TOKEN } })
  const body = await readFile(join(served.audioDir, 'src.wav'))
  const up = await served.app.inject({ method: 'PUT', url: '/tracks/up.wav?engine=wow&mix=0.3&unrelated=1', headers: { ...admin, 'content-type': 'audio/wav' }, payload: body })
  t.equal(up.statusCode, 201)
  t.match(up.json(), { engine: 'wow', engine_params: { mix: 0.3 } })
  const bad = await served.app.inject({ method: 'PUT', url: '/tracks/other.wav?engine=vinyl', headers: { ...admin, 'content-type': 'audio/wav' }, payload: body })
  t.equal(bad.statusCode, 400)
  t.equal((await served.app.inject('/stats/other.wav')).statusCode, 404, 'nothing was kept')
})

t.test('kill -9 while an engine change renders the track: the restart finishes it (or it never began); plays and audio agree', { timeout: 300_000 }, async t => {
  for (const delay of [20, 250]) {
    const root = await mkdtemp(join(tmpdir(), 'ephemeral-engine-change-'))
    t.teardown(async () => await rm(root, { recursive: true, force: true }))
    const dirs = { audioDir: join(root, 'audio'), metadataDir: join(root, 'metadata') }
    await mkdir(dirs.audioDir)
    await writeTestWav(join(dirs.audioDir, 'long.wav'), { frames: 44100 * 8, sampleRate: 44100, channels: 2 })
    const service = await startService({ AUDIO_DIR: dirs.audioDir, METADATA_DIR: dirs.metadataDir, DECAY_ENGINE: 'wow', DEGRADATION_RATE: String(RATE), DEGRADE_RATE_LIMIT: '0', ADMIN_TOKEN: TOKEN })
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${service.url}/degrade/long.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: (i * 7) % 16 }) })
      t.equal(res.status, 200)
    }
    const change = fetch(`${service.url}/tracks/long.wav`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ engine: 'dissolve' }) }).catch(() => undefined)
    await new Promise(resolve => setTimeout(resolve, delay))
    service.child.kill('SIGKILL')
    await service.exited
    const answered = await change
    const again = await buildTestApp(t, { dirs, env: { DEGRADATION_RATE: RATE } })
    const stats = (await again.app.inject('/stats/long.wav')).json() as { engine: string, total_plays: number }
    t.equal(stats.total_plays, 30, `killed after ${delay} ms: every acknowledged play is kept`)
    if (answered?.status === 200) t.equal(stats.engine, 'dissolve', 'an acknowledged change is kept')
    t.ok(['wow', 'dissolve'].includes(stats.engine), `the engine is the old or the new one (${stats.engine})`)
    await again.app.degrader.checkpoint()
    const { meta, expected, actual } = await expectedAudio(dirs.metadataDir, dirs.audioDir, 'long.wav')
    t.notOk(meta.reset_pending, 'no change is left half done')
    t.ok(actual.equals(expected), `the audio is ${stats.engine}'s rendering at the recorded counts`)
    await again.app.close()
  }
})

t.test('engine changes while 20 clients play: every acknowledged play is counted, and the audio is the last engine\'s rendering', async t => {
  const served = await buildTestApp(t, { tracks: { 'c.wav': { frames: 8000 * 5, channels: 2 } }, env: { ADMIN_TOKEN: TOKEN, DECAY_ENGINE: 'tape', DEGRADATION_RATE: RATE, DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(served.app)
  let acknowledged = 0
  let stop = false
  const stopped = () => stop
  const players = Array.from({ length: 20 }, async (_, c) => {
    for (let i = 0; !stopped(); i++) {
      const res = await fetch(`${url}/degrade/c.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: (c + i) % 10 }) })
      if (res.status === 200) acknowledged++
      else t.fail(`a play answered ${res.status}: ${await res.text()}`)
      await res.arrayBuffer().catch(() => {})
    }
  })
  for (const engine of ['noise', 'fidelity', 'worn']) {
    await new Promise(resolve => setTimeout(resolve, 150))
    const res = await fetch(`${url}/tracks/c.wav`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ engine }) })
    t.equal(res.status, 200, `changed to ${engine} while plays go on`)
  }
  await new Promise(resolve => setTimeout(resolve, 150))
  stop = true
  await Promise.all(players)
  const stats = (await (await fetch(`${url}/stats/c.wav`)).json()) as { engine: string, total_plays: number }
  t.equal(stats.engine, 'worn')
  t.equal(stats.total_plays, acknowledged, `all ${acknowledged} acknowledged plays are counted`)
  await served.app.degrader.checkpoint()
  const { expected, actual } = await expectedAudio(served.metadataDir, served.audioDir, 'c.wav')
  t.ok(actual.equals(expected), 'the file is worn\'s rendering at the counts')
})
