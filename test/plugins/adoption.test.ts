import t from 'tap'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { buildTestApp, type TapTest } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'

const FLASK = {
  filename: 'old.wav',
  title: 'old',
  duration: 1.0,
  segment_duration: 0.5,
  total_segments: 2,
  segment_play_counts: [3, 5],
  created_at: '2024-11-28T12:00:00.123456',
  total_streams: 7
}

async function flaskDeployment (t: TapTest) {
  const root = await mkdtemp(join(tmpdir(), 'ephemeral-flask-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const dirs = { audioDir: join(root, 'audio'), metadataDir: join(root, 'metadata') }
  await mkdir(dirs.audioDir)
  await mkdir(dirs.metadataDir)
  const wav = await writeTestWav(join(dirs.audioDir, 'old.wav'), { frames: 8000 })
  await writeFile(join(dirs.metadataDir, 'old.json'), JSON.stringify(FLASK))
  return { dirs, wav }
}

t.test('a Flask deployment is adopted as it is: counts, streams, created_at and audio', async t => {
  const { dirs, wav } = await flaskDeployment(t)
  const before = await readFile(wav.path)
  const { app } = await buildTestApp(t, { dirs, env: { DEGRADE_RATE_LIMIT: 0 } })
  const stats = (await app.inject('/stats/old.wav')).json()
  t.same(stats.segment_play_counts, [3, 5])
  t.equal(stats.total_streams, 7)
  t.equal(stats.created_at, FLASK.created_at)
  t.same(await readFile(wav.path), before, 'the audio is adopted as it is')

  const saved = JSON.parse(await readFile(join(dirs.metadataDir, 'old.json'), 'utf8'))
  for (const [key, value] of Object.entries(FLASK)) t.same(saved[key], value, `metadata keeps ${key}`)
  t.ok((await readdir(join(dirs.metadataDir, 'originals'))).includes('old.wav'), 'a pristine copy is kept')

  const play = (await app.inject({ method: 'POST', url: '/degrade/old.wav', payload: { segment_index: 0 } })).json()
  t.equal(play.play_count, 4, 'plays continue from the adopted count')
})

t.test('counts survive a restart on the same folders', async t => {
  const { dirs } = await flaskDeployment(t)
  const first = await buildTestApp(t, { dirs, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (let i = 0; i < 3; i++) await first.app.inject({ method: 'POST', url: '/degrade/old.wav', payload: { segment_index: 1 } })
  await first.app.close()
  const second = await buildTestApp(t, { dirs })
  const stats = (await second.app.inject('/stats/old.wav')).json()
  t.same(stats.segment_play_counts, [3, 8])
  const saved = JSON.parse(await readFile(join(dirs.metadataDir, 'old.json'), 'utf8'))
  t.same(saved.segment_play_counts, [3, 8], 'the Flask-format file carries the counts')
})

t.test('an unreadable metadata file is set aside and reported, never silently overwritten', async t => {
  const { dirs } = await flaskDeployment(t)
  await writeFile(join(dirs.metadataDir, 'old.json'), '{"segment_play_counts": [3, 5')
  const { app } = await buildTestApp(t, { dirs })
  t.equal((await app.inject('/stats/old.wav')).statusCode, 200)
  const kept = (await readdir(dirs.metadataDir)).filter(n => n.startsWith('old.json.corrupt-'))
  t.equal(kept.length, 1)
  t.equal(await readFile(join(dirs.metadataDir, kept[0]!), 'utf8'), '{"segment_play_counts": [3, 5')
})
