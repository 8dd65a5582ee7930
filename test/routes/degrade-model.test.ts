import t from 'tap'
import { readFile } from 'node:fs/promises'
import { buildTestApp, type TapTest } from '../helper.js'
import { segmentSpan } from '../../lib/wav-format.js'
import { silentFrameCount } from '../../lib/pcm.js'
import { silencedFrames, silencedShare } from '../../lib/dropout.js'
import type { TestWavOptions } from '../fixtures/wav-fixtures.js'
import { expectedSegment, layoutOf, readMetadata, readSegment } from '../segment-io.js'

const NAME = 'track.wav'

async function setup (t: TapTest, wav: TestWavOptions, rate = 1) {
  const built = await buildTestApp(t, { tracks: { [NAME]: wav }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: rate } })
  const play = async (segment: number) => {
    const res = await built.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: segment } })
    if (res.statusCode !== 200) throw new Error(res.body)
    return res.json() as { play_count: number, segment_degradation: number, overall_degradation: number }
  }
  return { ...built, play, wav: built.tracks[NAME]! }
}

for (const rate of [0.5, 1, 2.5, 10]) {
  t.test(`at ${rate} %/play the silenced share after n plays is exactly min(1, n × rate / 100)`, async t => {
    const { play, wav, app } = await setup(t, { frames: 8000, sampleRate: 8000 }, rate)
    const frames = segmentSpan(layoutOf(wav), 0.5, 0).frameCount
    let n = 0
    for (const target of [1, 2, 5, 20, 33, 50, 99, 100, 150].filter(x => x * rate <= 150)) {
      let last
      while (n < target) { last = await play(0); n++ }
      const silent = silentFrameCount(await readSegment(wav, 0), wav.format)
      t.equal(silent, silencedFrames(frames, silencedShare(n, rate)), `after ${n} plays`)
      t.equal(last?.segment_degradation, Math.round(silencedShare(n, rate) * 100 * 1e4) / 1e4, 'the reply reports the same share')
    }
    const stats = (await app.inject(`/stats/${NAME}`)).json()
    t.equal(stats.overall_degradation, Math.round(silencedShare(n, rate) * 100 / 2 * 1e4) / 1e4, 'overall is the mean over the two segments')
  })
}

t.test('damage is monotone: what is silent after n plays stays silent after n + 1', async t => {
  const { play, wav } = await setup(t, { frames: 4000, sampleRate: 8000 }, 3)
  let previous = await readSegment(wav, 0)
  for (let n = 1; n <= 34; n++) {
    await play(0)
    const current = await readSegment(wav, 0)
    for (let frame = 0; frame < current.length / 4; frame++) {
      if (previous.readInt32LE(frame * 4) === 0 && current.readInt32LE(frame * 4) !== 0) {
        t.fail(`frame ${frame} came back after play ${n}`)
        return
      }
    }
    previous = current
  }
  t.equal(silentFrameCount(previous, wav.format), 4000, 'fully silent at 34 × 3 % ≥ 100 %')
})

const formats: Array<[string, TestWavOptions]> = [
  ['stereo 16-bit with LIST before and bext + LIST after the data', {
    channels: 2,
    chunksBeforeData: [{ id: 'LIST', body: Buffer.from('INFOINAM\u0005\u0000\u0000\u0000title\u0000') }],
    chunksAfterData: [{ id: 'bext', body: Buffer.alloc(33, 7) }, { id: 'LIST', body: Buffer.from('INFOICMT\u0003\u0000\u0000\u0000hi\u0000\u0000') }]
  }],
  ['mono 24-bit with an odd-sized chunk before the data', { channels: 1, bitsPerSample: 24, chunksBeforeData: [{ id: 'junk', body: Buffer.alloc(3, 1) }] }],
  ['6-channel 32-bit float, WAVE_FORMAT_EXTENSIBLE', { channels: 6, encoding: 'float', bitsPerSample: 32, extensible: true }],
  ['stereo 64-bit float', { channels: 2, encoding: 'float', bitsPerSample: 64 }],
  ['mono 8-bit unsigned', { channels: 1, bitsPerSample: 8 }]
]

for (const [name, options] of formats) {
  t.test(`${name}: only the played segment's bytes change, every channel silenced together, exactly as rendered`, async t => {
    const { play, wav, metadataDir } = await setup(t, { frames: 12000, sampleRate: 8000, ...options }, 10)
    const before = await readFile(wav.path)
    for (let i = 0; i < 4; i++) await play(1)
    const after = await readFile(wav.path)
    const span = segmentSpan(layoutOf(wav), 0.5, 1)
    t.equal(after.length, before.length)
    t.ok(after.subarray(0, span.byteOffset).equals(before.subarray(0, span.byteOffset)), 'header, chunks and earlier segments identical')
    t.ok(after.subarray(span.byteOffset + span.byteLength).equals(before.subarray(span.byteOffset + span.byteLength)), 'later segments and trailing chunks identical')
    const segment = after.subarray(span.byteOffset, span.byteOffset + span.byteLength)
    const silent = silentFrameCount(segment, wav.format)
    if (wav.format.bitsPerSample === 8) {
      // At 8 bits the first frames of a fade-in quantise to silence too; the model's own frames are checked below.
      t.ok(silent >= silencedFrames(span.frameCount, 0.4) && silent < silencedFrames(span.frameCount, 0.5), `about 40 % silent (${silent})`)
    } else {
      t.equal(silent, silencedFrames(span.frameCount, 0.4), '40 % of frames silent in every channel')
    }
    const meta = await readMetadata(metadataDir, NAME)
    t.ok(segment.equals(expectedSegment(wav, meta, 1, 4, 10)), 'equals the rendering at 4 plays')
  })
}

t.test('a short last segment degrades too, and stats count it as a segment', async t => {
  const { play, wav, app } = await setup(t, { frames: 8100, sampleRate: 8000 }, 50)
  const r = await play(2)
  t.equal(r.segment_degradation, 50)
  t.equal(silentFrameCount(await readSegment(wav, 2), wav.format), 50, 'half of the 100-frame tail')
  t.equal((await app.inject(`/stats/${NAME}`)).json().total_segments, 3)
})
