import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildTestApp } from '../helper.js'
import { writeBrokenWav } from '../fixtures/wav-fixtures.js'

t.test('GET / keeps the Flask fields and exposes no server paths', async t => {
  const { app, audioDir } = await buildTestApp(t, { tracks: { 'a.wav': {} } })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.status, 'running')
  t.equal(body.service, 'Ephemeral Audio Decay System')
  t.equal(body.degradation_rate, 1)
  t.type(body.version, 'string')
  t.equal(body.tracks, 1)
  t.notMatch(res.body, audioDir)
})

t.test('GET /tracks lists playable tracks with the Flask field names and types', async t => {
  const { app } = await buildTestApp(t, {
    tracks: { 'b.wav': { channels: 2, sampleRate: 8000, frames: 12000 }, 'a.WAV': { channels: 1, bitsPerSample: 24, sampleRate: 16000, frames: 16000 } }
  })
  const res = await app.inject('/tracks')
  t.equal(res.statusCode, 200)
  const list = res.json()
  t.same(list.map((x: { filename: string }) => x.filename), ['a.WAV', 'b.wav'])
  const b = list[1]
  t.same(Object.keys(b).sort(), ['bits_per_sample', 'channels', 'duration', 'engine', 'engine_params', 'filename', 'overall_degradation', 'sample_format', 'sample_rate', 'title', 'total_plays', 'total_segments', 'total_streams'])
  t.same(b, { filename: 'b.wav', title: 'b', duration: 1.5, overall_degradation: 0, total_streams: 0, total_segments: 3, total_plays: 0, engine: 'dropout', engine_params: {}, sample_rate: 8000, channels: 2, bits_per_sample: 16, sample_format: 'int' })
  t.equal(list[0].bits_per_sample, 24)
  t.equal(list[0].total_segments, 2)
})

t.test('an unplayable file is left out of /tracks and untouched; asking for it directly is 422', async t => {
  const { app, audioDir } = await buildTestApp(t, { tracks: { 'good.wav': {} } })
  await writeBrokenWav(join(audioDir, 'law.wav'), 'mulaw')
  await writeFile(join(audioDir, 'notes.txt'), 'not audio')
  const list = (await app.inject('/tracks')).json()
  t.same(list.map((x: { filename: string }) => x.filename), ['good.wav'])
  for (const url of ['/stats/law.wav', '/stream/law.wav']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 422, url)
    t.match(res.json().message, /mu-law/)
  }
  const play = await app.inject({ method: 'POST', url: '/degrade/law.wav', payload: { segment_index: 0 } })
  t.equal(play.statusCode, 422)
})

t.test('GET /stats has every Flask field, with one count per segment', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': { sampleRate: 8000, frames: 10000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  await app.inject({ method: 'POST', url: '/degrade/a.wav', payload: { segment_index: 2 } })
  const s = (await app.inject('/stats/a.wav')).json()
  t.equal(s.filename, 'a.wav')
  t.equal(s.title, 'a')
  t.equal(s.duration, 1.25)
  t.equal(s.total_segments, 3)
  t.equal(s.segment_duration, 0.5)
  t.same(s.segment_play_counts, [0, 0, 1])
  t.same(s.segment_degradation, [0, 0, 1])
  t.equal(s.overall_degradation, 0.3333)
  t.equal(s.total_streams, 0)
  t.ok(!Number.isNaN(Date.parse(s.created_at)), 'created_at is ISO 8601')
  t.equal(s.sample_rate, 8000)
})

t.test('unknown tracks and routes are 404 in the one error shape', async t => {
  const { app } = await buildTestApp(t, {})
  for (const url of ['/stats/nope.wav', '/stream/nope.wav', '/no-such-route']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 404)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
    t.equal(body.error, 'Not Found')
  }
})

t.test('a bad track name is explained in words, not as a regular expression', async t => {
  const { app } = await buildTestApp(t, {})
  for (const url of ['/stats/notes.txt', '/stream/a.mp3', '/stats/x']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 400, url)
    t.same(res.json(), { statusCode: 400, error: 'Bad Request', message: 'Invalid request: a track name is a file name ending in .wav (5 to 200 characters, no /, \\ or NUL)', code: 'EA_BAD_FILENAME' })
  }
})
