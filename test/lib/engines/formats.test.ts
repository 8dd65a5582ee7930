import t from 'tap'
import { ENGINES } from '../../../lib/engines/index.js'
import { toPlanes } from '../../../lib/engines/planar.js'
import { renderFrames, type EngineTrack } from '../../../lib/engines/segment.js'
import type { WavFormat } from '../../../lib/wav-format.js'
import { testFrames } from '../../fixtures/wav-fixtures.js'

// Every engine through the segment layer, in every sample format the service plays.

function format (encoding: 'int' | 'float', bitsPerSample: number, channels: number, sampleRate: number): WavFormat {
  return { encoding, bitsPerSample, channels, sampleRate, blockAlign: channels * bitsPerSample / 8 }
}
const FORMATS = [format('int', 8, 1, 8000), format('int', 16, 2, 22050), format('int', 24, 2, 16000), format('int', 32, 1, 11025), format('float', 32, 2, 16000), format('float', 64, 1, 8000)]
const label = (f: WavFormat) => `${f.bitsPerSample}-bit ${f.encoding}, ${f.channels} ch, ${f.sampleRate} Hz`

function trackOf (engineId: string, f: WavFormat, frames: number, wears: number[]): EngineTrack {
  const engine = ENGINES.get(engineId)!
  return { format: f, frames, framesPerSegment: Math.floor(f.sampleRate / 2), seed: 99, engine, params: engine.defaults, wearOf: i => wears[i] ?? 0 }
}
const whole = (track: EngineTrack, pristine: Buffer) => renderFrames(track, { from: 0, to: track.frames, readFrom: 0 }, pristine)

for (const id of ENGINES.keys()) {
  t.test(id, async t => {
    for (const f of FORMATS) {
      const frames = Math.floor(f.sampleRate / 2) * 4
      const pristine = testFrames(f, 0, frames)
      t.ok(whole(trackOf(id, f, frames, [0, 0, 0, 0]), pristine).equals(pristine), `${label(f)}: no wear is the pristine bytes`)
      const silence = f.encoding === 'int' && f.bitsPerSample === 8 ? 0x80 : 0
      t.ok(whole(trackOf(id, f, frames, [1, 1, 1, 1]), pristine).every(b => b === silence), `${label(f)}: full wear is digital silence`)
      const once = whole(trackOf(id, f, frames, [0.2, 0.5, 0.9, 0.3]), pristine)
      t.ok(once.equals(whole(trackOf(id, f, frames, [0.2, 0.5, 0.9, 0.3]), pristine)), `${label(f)}: deterministic`)
      t.not(once.equals(pristine), true, `${label(f)}: worn is not pristine`)
      if (f.channels === 2) {
        // Silence channel 1 of the input: channel 0 of the output must not change.
        const altered = Buffer.from(pristine)
        const width = f.bitsPerSample / 8
        for (let p = width; p < altered.length; p += f.blockAlign) altered.fill(0, p, p + width)
        const left = (b: Buffer) => toPlanes(b, f)[0]!
        t.same(left(whole(trackOf(id, f, frames, [0.2, 0.5, 0.9, 0.3]), altered)), left(once), `${label(f)}: channels are kept apart`)
      }
    }
  })
}

t.test('no clicks at boundaries: for (0, full) and (k, k + 1) neighbours, every engine steps no more at a boundary than inside a segment', async t => {
  const f = format('float', 32, 1, 44100)
  const frames = 44100 * 2
  const pristine = testFrames(f, 0, frames)
  const largestStep = (plane: Float64Array, from: number, to: number) => {
    let max = 0
    for (let i = from + 1; i < to; i++) max = Math.max(max, Math.abs(plane[i]! - plane[i - 1]!))
    return max
  }
  for (const id of ENGINES.keys()) {
    for (const [a, b] of [[0, 1], [1, 0], [0.4, 0.41], [0.7, 0.71], [0.99, 1]] as const) {
      const out = toPlanes(whole(trackOf(id, f, frames, [a, b, a, b]), pristine), f)[0]!
      const boundary = 22050
      // The same figure over the segments' insides, away from any boundary.
      const inside = Math.max(largestStep(out, 1000, 21000), largestStep(out, 23000, 43000))
      const step = largestStep(out, boundary - 300, boundary + 300)
      t.ok(step <= inside * 1.5 + 1e-6, `${id} (${a}, ${b}): largest step at the boundary ${step.toFixed(5)}, inside ${inside.toFixed(5)}`)
    }
  }
})
