import t from 'tap'
import { dropoutGains, silencedShare } from '../../lib/dropout.js'
import { applyGains } from '../../lib/pcm.js'
import { renderInPlace, renderSegment, type SegmentRender } from '../../lib/render.js'
import type { WavFormat } from '../../lib/wav-format.js'
import { testFrames } from '../fixtures/wav-fixtures.js'

function format (encoding: 'int' | 'float', bitsPerSample: number, channels: number, sampleRate: number): WavFormat {
  return { encoding, bitsPerSample, channels, sampleRate, blockAlign: channels * bitsPerSample / 8 }
}

/** The model as written: every frame's gain, then every frame scaled. Rendering must stay byte-identical to it. */
function reference (pristine: Buffer, f: WavFormat, r: SegmentRender): Buffer {
  const out = Buffer.from(pristine)
  const share = silencedShare(r.plays - r.baselinePlays, r.ratePercent)
  if (share <= 0) return out
  const gains = dropoutGains({ seed: r.seed, segmentIndex: r.segmentIndex, frameCount: out.length / f.blockAlign, sampleRate: f.sampleRate, share })
  applyGains(out, f, gains)
  return out
}

const FORMATS = [
  format('int', 8, 1, 8000), format('int', 16, 2, 44100), format('int', 24, 2, 48000),
  format('int', 32, 1, 22050), format('float', 32, 2, 44100), format('float', 64, 1, 96000),
  // A fade shorter than one frame (no ramp at all) and one of a couple of frames.
  format('int', 16, 1, 200), format('int', 16, 1, 1000)
]

t.test('renderSegment gives exactly the bytes of dropoutGains + applyGains', async t => {
  for (const f of FORMATS) {
    const frames = Math.round(f.sampleRate * 0.5)
    const pristine = testFrames(f, 0, frames)
    let compared = 0
    for (const plays of [0, 1, 2, 3, 7, 13, 33, 50, 67, 99, 100, 140]) {
      for (const segmentIndex of [0, 5]) {
        const r = { seed: `track-${f.bitsPerSample}`, segmentIndex, plays, baselinePlays: plays > 10 ? 4 : 0, ratePercent: 1 }
        const expected = reference(pristine, f, r)
        const got = renderSegment(pristine, f, r)
        if (!got.equals(expected)) t.fail(`${f.encoding} ${f.bitsPerSample}-bit at ${f.sampleRate} Hz, ${plays} plays, segment ${segmentIndex}: bytes differ`)
        compared++
      }
    }
    t.equal(compared, 24, `${f.encoding} ${f.bitsPerSample}-bit ${f.channels} ch at ${f.sampleRate} Hz`)
  }
})

t.test('rates, baselines and short segments (a last segment is often short) render alike too', async t => {
  const f = format('int', 16, 2, 44100)
  for (const frames of [1, 2, 90, 177, 1000, 22050]) {
    const pristine = testFrames(f, 1234, frames)
    for (const ratePercent of [0, 0.5, 2.5, 10, 100]) {
      for (const plays of [1, 4, 9, 40]) {
        const r = { seed: 'short', segmentIndex: 3, plays, baselinePlays: 1, ratePercent }
        t.ok(renderSegment(pristine, f, r).equals(reference(pristine, f, r)), `${frames} frames, rate ${ratePercent} %, ${plays} plays`)
      }
    }
  }
})

t.test('renderSegment leaves its input alone; renderInPlace renders the buffer it is given', async t => {
  const f = format('int', 16, 2, 44100)
  const pristine = testFrames(f, 0, 22050)
  const copy = Buffer.from(pristine)
  const r = { seed: 'a', segmentIndex: 1, plays: 30, baselinePlays: 0, ratePercent: 1 }
  const rendered = renderSegment(pristine, f, r)
  t.ok(pristine.equals(copy), 'input untouched')
  t.notOk(rendered.equals(pristine), 'output degraded')
  renderInPlace(copy, f, r)
  t.ok(copy.equals(rendered))
})

t.test('bad input is refused as before', async t => {
  const r = { seed: 'a', segmentIndex: 0, plays: 5, baselinePlays: 0, ratePercent: 1 }
  t.throws(() => renderSegment(Buffer.alloc(5), format('int', 16, 1, 8000), r), RangeError, 'not whole frames')
  t.throws(() => renderSegment(Buffer.alloc(6), { encoding: 'int', bitsPerSample: 12, channels: 1, sampleRate: 8000, blockAlign: 2 }, r), RangeError, 'no codec')
  t.throws(() => renderSegment(Buffer.alloc(4), format('int', 16, 1, Number.NaN), r), RangeError, 'bad sample rate')
})
