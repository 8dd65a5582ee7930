import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { renderFrames } from '../../lib/engines/segment.js'
import { engineTrackOf } from '../../lib/engines/track-render.js'
import { buildTestApp } from '../helper.js'
import { readMetadata } from '../segment-io.js'

const RATE = 5

t.test('a preview is the track rendered at the plays and engine asked for, and changes nothing', async t => {
  const served = await buildTestApp(t, { tracks: { 'p.wav': { frames: 8000 * 3, channels: 2 } }, env: { DEGRADATION_RATE: RATE, DEGRADE_RATE_LIMIT: 0 } })
  for (const segment of [0, 1, 1, 4]) await served.app.inject({ method: 'POST', url: '/degrade/p.wav', payload: { segment_index: segment } })
  await served.app.degrader.checkpoint()
  const audioBefore = await readFile(join(served.audioDir, 'p.wav'))
  const meta = await readMetadata(served.metadataDir, 'p.wav')
  const { dataOffset, format } = meta.layout
  const pristine = await readFile(join(served.metadataDir, 'originals', 'p.wav'))

  const res = await served.app.inject('/preview/p.wav?engine=tape&finalCutoff=600&plays=12&from=1&to=4')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'audio/wav')
  t.equal(Number(res.headers['content-length']), res.rawPayload.length)
  const worn = { ...meta, engine: 'tape', engine_params: { finalCutoff: 600, drive: 2, hiss: -48, levelLoss: 4 }, segment_play_counts: meta.segment_play_counts.map(() => 12) }
  const engineTrack = engineTrackOf(worn, RATE)!
  const span = { from: 4000, to: 16000, readFrom: 0 }
  const expected = renderFrames(engineTrack, span, pristine.subarray(dataOffset, dataOffset + span.to * format.blockAlign))
  t.ok(res.rawPayload.subarray(44).equals(expected), 'segments 1–3 as tape renders them at 12 plays each')
  t.equal(res.rawPayload.subarray(0, 4).toString(), 'RIFF')

  const pristineAudio = await served.app.inject('/preview/p.wav?plays=0&engine=noise')
  t.ok(pristineAudio.rawPayload.subarray(44).equals(pristine.subarray(dataOffset)), 'at 0 plays, the pristine audio, byte for byte')
  const asHeard = await served.app.inject('/preview/p.wav')
  t.ok(asHeard.rawPayload.subarray(44).equals(audioBefore.subarray(dataOffset)), 'with no query: the track as it sounds now')

  t.same(await readFile(join(served.audioDir, 'p.wav')), audioBefore, 'the audio is untouched')
  t.same((await served.app.inject('/stats/p.wav')).json().segment_play_counts, meta.segment_play_counts, 'nothing counted')
})

t.test('previews are cacheable: one ETag per set of inputs, 304 on If-None-Match', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'c.wav': { frames: 8000 * 2 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const url = '/preview/c.wav?engine=wow&plays=30'
  const etag = (await app.inject(url)).headers.etag as string
  t.match(etag, /^"pv-[\w-]+"$/)
  t.equal((await app.inject(url)).headers.etag, etag, 'the same inputs, the same ETag')
  const again = await app.inject({ url, headers: { 'if-none-match': etag } })
  t.equal(again.statusCode, 304)
  t.equal(again.rawPayload.length, 0)
  t.not((await app.inject('/preview/c.wav?engine=wow&plays=31')).headers.etag, etag)
  t.not((await app.inject('/preview/c.wav?engine=wow&plays=30&mix=0.2')).headers.etag, etag)
  await app.inject({ method: 'POST', url: '/degrade/c.wav', payload: { segment_index: 0 } })
  const real = (await app.inject('/preview/c.wav')).headers.etag
  await app.inject({ method: 'POST', url: '/degrade/c.wav', payload: { segment_index: 0 } })
  t.not((await app.inject('/preview/c.wav')).headers.etag, real, 'a play changes the preview of the real counts')
})

t.test('bad previews are 400s that say what is wrong; previews are rate-limited as plays are', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'b.wav': { frames: 8000 * 2 } }, env: { DEGRADE_RATE_LIMIT: 8 } })
  for (const [query, message] of [
    ['engine=vinyl', /no decay engine "vinyl"/],
    ['engine=tape&finalCutoff=5', /tape's finalCutoff must be >= 300/],
    ['from=3&to=3', /segments \[3, 3\) are not within the track's 4 segments/],
    ['to=5', /segments \[0, 5\) are not within/],
    ['plays=-1', /plays/]
  ] as const) {
    const res = await app.inject(`/preview/b.wav?${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json().message, message, query)
  }
  const codes: number[] = []
  for (let i = 0; i < 10; i++) codes.push((await app.inject('/preview/b.wav?plays=1')).statusCode)
  t.ok(codes.includes(429), `past DEGRADE_RATE_LIMIT a second: ${codes.join(' ')}`)
  t.equal((await app.inject('/preview/nope.wav')).statusCode, 404)
})

t.test('a preview is at most 30 s', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'long.wav': { frames: 1000 * 40, sampleRate: 1000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const whole = await app.inject('/preview/long.wav?plays=3&engine=fidelity')
  t.equal(whole.statusCode, 200)
  t.equal(whole.rawPayload.length - 44, 30 * 1000 * 4, `the first 30 s of 16-bit stereo (${whole.rawPayload.length} bytes)`)
  const polluted = await app.inject('/preview/long.wav?engine=tape&constructor=1&__proto__=2&toString=3&plays=1')
  t.equal(polluted.statusCode, 200, 'keys of Object.prototype are not parameters: ignored like any other')
  t.equal(polluted.headers.etag, (await app.inject('/preview/long.wav?engine=tape&plays=1')).headers.etag, 'and they change nothing')
  const res = await app.inject('/preview/long.wav?from=0&to=70')
  t.equal(res.statusCode, 400)
  t.match(res.json().message, /at most 30 s/)
})
