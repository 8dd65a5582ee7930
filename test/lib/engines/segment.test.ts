import t from 'tap'
import { Type } from 'typebox'
import type { DecayEngine } from '../../../lib/engines/engine.js'
import { toPlanes } from '../../../lib/engines/planar.js'
import { crossfadeFrames, playSpan, renderFrames, type EngineTrack } from '../../../lib/engines/segment.js'
import type { WavFormat } from '../../../lib/wav-format.js'
import { testFrames } from '../../fixtures/wav-fixtures.js'

function format (encoding: 'int' | 'float', bitsPerSample: number, channels: number, sampleRate: number): WavFormat {
  return { encoding, bitsPerSample, channels, sampleRate, blockAlign: channels * bitsPerSample / 8 }
}

const FORMATS = [format('int', 8, 1, 8000), format('int', 16, 2, 44100), format('int', 24, 2, 48000), format('int', 32, 1, 22050), format('float', 32, 2, 44100), format('float', 64, 1, 16000)]

/**
 * Test engines: a level that falls with wear (no context), and a one-pole
 * low-pass over a fixed 10 ms window of context (position-independent, as
 * engines must be).
 */
const testEngine = (id: string) => ({ id, name: id, description: '', version: 1, params: Type.Object({}), defaults: {}, measure: '' })
const quieter: DecayEngine = {
  ...testEngine('quieter'),
  preroll: () => 0,
  render: (input, _params, out) => {
    for (let c = 0; c < out.length; c++) {
      for (let i = 0; i < input.length; i++) (out[c] as Float64Array)[i] = (input.channels[c] as Float64Array)[input.preroll + i]! * (1 - input.wear)
    }
  }
}
const smeared: DecayEngine = {
  ...testEngine('smeared'),
  preroll: sampleRate => Math.round(sampleRate / 100),
  render: (input, _params, out) => {
    const window = Math.round(input.sampleRate / 100)
    for (let c = 0; c < out.length; c++) {
      const x = input.channels[c] as Float64Array
      for (let i = 0; i < input.length; i++) {
        // The mean of the last `window` pristine frames, whatever the call's start: the track's first frames see fewer.
        const first = Math.max(0, input.preroll + i - window + 1, input.preroll - input.start)
        let sum = 0
        for (let j = first; j <= input.preroll + i; j++) sum += x[j] as number
        const mean = sum / (input.preroll + i - first + 1)
        ;(out[c] as Float64Array)[i] = (x[input.preroll + i]! * (1 - input.wear) + mean * input.wear) * (1 - input.wear)
      }
    }
  }
}

function trackOf (f: WavFormat, frames: number, counts: number[], engine = quieter): EngineTrack {
  return { format: f, frames, framesPerSegment: Math.floor(f.sampleRate / 2), seed: 7, engine, params: {}, wearOf: i => Math.min(1, (counts[i] ?? 0) / 10) }
}

t.test('no wear: every byte is the pristine byte, in every format', async t => {
  for (const f of FORMATS) {
    const frames = f.sampleRate * 2 + 17
    const pristine = testFrames(f, 0, frames)
    const track = trackOf(f, frames, [0, 0, 0, 0, 0])
    t.same(renderFrames(track, { from: 0, to: frames, readFrom: 0 }, pristine), pristine, `${f.bitsPerSample}-bit ${f.encoding}`)
  }
})

t.test('a play rewrites its segment and the head of the next, and reads the engine\'s context before it', async t => {
  const f = format('int', 16, 2, 44100)
  const track = trackOf(f, 44100 * 3, [], smeared)
  t.same(playSpan(track, 0), { from: 0, to: 22050 + crossfadeFrames(track), readFrom: 0 })
  t.same(playSpan(track, 2), { from: 44100, to: 66150 + 221, readFrom: 44100 - 441 })
  t.same(playSpan(track, 5), { from: 110250, to: 132300, readFrom: 110250 - 441 }, 'the last segment has no next')
})

t.test('full wear is digital silence in every format (0x80 for 8-bit)', async t => {
  for (const f of FORMATS) {
    const frames = f.sampleRate
    const out = renderFrames(trackOf(f, frames, [10, 10]), { from: 0, to: frames, readFrom: 0 }, testFrames(f, 0, frames))
    t.ok(out.every(b => b === (f.bitsPerSample === 8 ? 0x80 : 0)), `${f.bitsPerSample}-bit ${f.encoding}`)
  }
})

t.test('rendered piecewise (play after play) or whole, the bytes are the same', async t => {
  for (const engine of [quieter, smeared]) {
    const f = format('int', 16, 2, 8000)
    const frames = 8000 * 3
    const counts = [3, 3, 7, 0, 10, 1]
    const track = trackOf(f, frames, counts, engine)
    const pristine = testFrames(f, 0, frames)
    const whole = renderFrames(track, { from: 0, to: frames, readFrom: 0 }, pristine)
    const pieced = Buffer.from(pristine)
    for (let i = 0; i < counts.length; i++) {
      const span = playSpan(track, i)
      renderFrames(track, span, pristine.subarray(span.readFrom * 4, span.to * 4)).copy(pieced, span.from * 4)
    }
    t.same(pieced, whole, engine.id)
  }
})

t.test('no step at a boundary for any pair of neighbouring counts', async t => {
  const f = format('float', 32, 1, 44100)
  const frames = 44100 * 2
  const pristine = testFrames(f, 0, frames)
  const largestStep = (planes: Float64Array[], from: number, to: number) => {
    let max = 0
    for (let i = from + 1; i < to; i++) max = Math.max(max, Math.abs(planes[0]![i]! - planes[0]![i - 1]!))
    return max
  }
  const inside = largestStep(toPlanes(pristine, f), 0, frames)
  for (const engine of [quieter, smeared]) {
    for (const [a, b] of [[0, 10], [10, 0], [0, 9], [4, 5], [9, 0]] as const) {
      const track = trackOf(f, frames, [a, b, a, b], engine)
      const out = toPlanes(renderFrames(track, { from: 0, to: frames, readFrom: 0 }, pristine), f)
      const boundary = 22050
      const step = largestStep(out, boundary - 300, boundary + 300)
      // Without the cross-fade a (0, 10) boundary steps by the signal itself: about 100 times this.
      t.ok(step <= inside * 1.25, `${engine.id} (${a}, ${b}): the largest step at the boundary (${step.toFixed(5)}) is about the pristine audio's own (${inside.toFixed(5)})`)
    }
  }
})
