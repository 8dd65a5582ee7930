import t from 'tap'
import { readdir } from 'node:fs/promises'
import { buildTestApp } from '../helper.js'

t.test('an empty AUDIO_DIR gets a playable demo track on first start, so a fresh install serves something audible', async t => {
  const { app, audioDir } = await buildTestApp(t, { env: { DEMO_TRACK: true } })
  t.same(await readdir(audioDir), ['ephemeral-demo.wav'])
  const [track] = (await app.inject('/tracks')).json()
  t.match(track, { filename: 'ephemeral-demo.wav', channels: 2, sample_rate: 44100, bits_per_sample: 16 })
  t.ok(track.duration >= 10, 'some seconds of music')
  const res = await app.inject({ url: '/stream/ephemeral-demo.wav', headers: { range: 'bytes=0-11' } })
  t.equal(res.statusCode, 206)
  t.equal(res.rawPayload.subarray(0, 4).toString(), 'RIFF')
})

t.test('no demo track when AUDIO_DIR already has tracks, or when DEMO_TRACK=false', async t => {
  const withTracks = await buildTestApp(t, { tracks: { 'mine.wav': {} }, env: { DEMO_TRACK: true } })
  t.same(await readdir(withTracks.audioDir), ['mine.wav'])
  const off = await buildTestApp(t, { env: { DEMO_TRACK: false } })
  t.same(await readdir(off.audioDir), [])
})
