import type { Test } from 'tap'
import { Value } from 'typebox/value'
import type { DecayEngine, EngineParams } from '../../../lib/engines/engine.js'
import { musicLike, relativeDifferenceEnergy } from './signal.js'
import { goldenHash as pcm16Hash, maxDifference as maxAbsDifference } from './harness.js'

// One hash and one difference for both harnesses: the 16-bit hash and the largest sample difference.
export { pcm16Hash, maxAbsDifference }

export const SAMPLE_RATES = [8000, 44100, 48000, 96000]
export const SEED = 0x5eed1234

export interface Span {
  sampleRate: number
  channels: number
  start: number
  length: number
  wear: number
  seed?: number
  /** Replaces the music-like signal: called with the pristine planes (preroll included), may change them. */
  alter?: (planes: Float64Array[]) => void
}

/** Pristine planes covering [start − preroll, start + length), the preroll cut short at the track's start as the segment layer does. */
const signals = new Map<string, Float64Array[]>()

/** The music-like signal is slow to make; tests render the same span at a hundred wears. */
function cachedMusic (sampleRate: number, frames: number, channels: number, start: number): Float64Array[] {
  const key = `${sampleRate}/${frames}/${channels}/${start}`
  let planes = signals.get(key)
  if (planes === undefined) {
    planes = musicLike(sampleRate, frames, channels, start)
    signals.set(key, planes)
  }
  return planes.map(p => Float64Array.from(p))
}

export function pristineFor (engine: DecayEngine<any>, params: EngineParams, span: Span): { planes: Float64Array[], preroll: number } {
  const preroll = Math.min(engine.preroll(span.sampleRate, params), span.start)
  const planes = cachedMusic(span.sampleRate, preroll + span.length, span.channels, span.start - preroll)
  span.alter?.(planes)
  return { planes, preroll }
}

export function renderSpan<P extends EngineParams> (engine: DecayEngine<P>, params: P, span: Span): { out: Float64Array[], pristine: Float64Array[] } {
  const { planes, preroll } = pristineFor(engine, params, span)
  const out = planes.map(() => new Float64Array(span.length))
  engine.render({
    channels: planes,
    preroll,
    start: span.start,
    length: span.length,
    sampleRate: span.sampleRate,
    seed: span.seed ?? SEED,
    wear: span.wear
  }, params, out)
  return { out, pristine: planes.map(p => p.subarray(preroll)) }
}

export const WEARS = Array.from({ length: 100 }, (_, i) => (i + 1) / 100)

/**
 * What the DecayEngine contract asks of every engine, table-driven over
 * sample rates and channel counts. `golden` pins the 16-bit hash of a fixed
 * render (stereo, 44.1 kHz, wear 0.5, 0.1 s from 1 s in).
 */
export function contractChecks<P extends EngineParams> (t: Test, engine: DecayEngine<P>, golden: string, params: P = engine.defaults): void {
  t.test('the default parameters satisfy the schema, and every parameter has a default, bounds and a description', async t => {
    t.ok(Value.Check(engine.params, params), 'the parameters tested are valid')
    t.ok(Value.Check(engine.params, engine.defaults), 'the defaults are valid')
    t.same(Value.Create(engine.params), engine.defaults)
    for (const [name, schema] of Object.entries(engine.params.properties)) {
      const s = schema as { default?: unknown, minimum?: unknown, maximum?: unknown, description?: unknown }
      t.ok(typeof s.default === 'number' && typeof s.minimum === 'number' && typeof s.maximum === 'number' && typeof s.description === 'string', name)
    }
    t.ok(engine.measure.length > 0)
  })

  t.test('deterministic, and the golden hash holds', async t => {
    const span = { sampleRate: 44100, channels: 2, start: 44100, length: 4410, wear: 0.5 }
    const a = renderSpan(engine, params, span).out
    const b = renderSpan(engine, params, span).out
    t.equal(maxAbsDifference(a, b), 0)
    t.equal(pcm16Hash(a), golden)
    t.not(pcm16Hash(renderSpan(engine, params, { ...span, seed: SEED + 1 }).out), golden, 'another track wears otherwise')
  })

  for (const sampleRate of SAMPLE_RATES) {
    t.test(`${sampleRate} Hz: monotone in wear, near pristine at the slightest wear, ≥ 0.1 at 90 %, exact silence at full wear`, async t => {
      const span = { sampleRate, channels: 2, start: sampleRate, length: sampleRate / 2 }
      let previous = 0
      const falls: string[] = []
      const at = new Map<number, number>()
      for (const wear of WEARS) {
        const { out, pristine } = renderSpan(engine, params, { ...span, wear })
        const e = relativeDifferenceEnergy(out, pristine)
        if (!(e >= previous)) falls.push(`${wear}: ${e} < ${previous}`)
        previous = e
        at.set(wear, e)
      }
      t.same(falls, [], 'relative difference energy never falls')
      t.ok((at.get(0.9) as number) >= 0.1, `0.1 ≤ ${at.get(0.9)} at 90 %`)
      const slight = renderSpan(engine, params, { ...span, wear: 0.001 })
      // 1 %: the test signal's hi-hat is white up to Nyquist, where a low-pass just below it already bites.
      const slightDifference = relativeDifferenceEnergy(slight.out, slight.pristine)
      t.ok(slightDifference < 0.01, `wear 0.001 is close to pristine (${slightDifference})`)
      const silent = renderSpan(engine, params, { ...span, wear: 1 }).out
      t.ok(silent.every(plane => plane.every(v => Object.is(v, 0))), 'every sample is +0')
    })

    for (const channels of [1, 2]) {
      t.test(`${sampleRate} Hz, ${channels} ch: a render split in two equals the render in one`, async t => {
        for (const wear of [0.05, 0.5, 0.85]) {
          for (const [a, b] of [[0, sampleRate / 5], [sampleRate, sampleRate + sampleRate / 4]] as const) {
            const m = a + Math.floor((b - a) * 0.37)
            const whole = renderSpan(engine, params, { sampleRate, channels, start: a, length: b - a, wear }).out
            const left = renderSpan(engine, params, { sampleRate, channels, start: a, length: m - a, wear }).out
            const right = renderSpan(engine, params, { sampleRate, channels, start: m, length: b - m, wear }).out
            const joined = whole.map((_, c) => Float64Array.of(...(left[c] as Float64Array), ...(right[c] as Float64Array)))
            t.ok(maxAbsDifference(whole, joined) <= 1e-9, `wear ${wear}, frames [${a}, ${m}, ${b}): ${maxAbsDifference(whole, joined)}`)
          }
        }
      })
    }
  }

  t.test('channels are kept apart: changing channel 1 leaves channel 0 alone, and their noise differs', async t => {
    const span = { sampleRate: 44100, channels: 2, start: 22050, length: 8820, wear: 0.6 }
    const plain = renderSpan(engine, params, span).out
    const changed = renderSpan(engine, params, { ...span, alter: planes => { (planes[1] as Float64Array).fill(0.25) } }).out
    t.equal(maxAbsDifference([changed[0] as Float64Array], [plain[0] as Float64Array]), 0)
    t.ok(maxAbsDifference([changed[1] as Float64Array], [plain[1] as Float64Array]) > 0)
    const silence = renderSpan(engine, params, { ...span, alter: planes => { for (const p of planes) p.fill(0) } }).out
    const [left, right] = silence as [Float64Array, Float64Array]
    if (left.some(v => v !== 0)) t.ok(maxAbsDifference([left], [right]) > 0, 'the noise streams of the channels differ')
  })
}
