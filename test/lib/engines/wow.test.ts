import t from 'tap'
import { Value } from 'typebox/value'
import { wow, wowBlend, wowDefaults, wowMaxDelay, wowPeakCents, WowParamsSchema } from '../../../lib/engines/wow.js'
import { goldenHash, musicSource, renderSpan, splitDifference, undocumentedParams } from './harness.js'
import { musicLike, relativeDifferenceEnergy } from './signal.js'

const RATES = [8000, 44100, 96000]
const WEARS = Array.from({ length: 100 }, (_, k) => (k + 1) / 100)

t.test('params: the defaults are valid and documented', async t => {
  t.ok(Value.Check(WowParamsSchema, wowDefaults))
  t.same(Value.Create(WowParamsSchema), wowDefaults)
  t.same(undocumentedParams(WowParamsSchema), [])
  t.equal(wow.params, WowParamsSchema)
  t.equal(wow.defaults, wowDefaults)
  t.notOk(Value.Check(WowParamsSchema, { ...wowDefaults, mix: 0.6 }), 'more than half the wobbling copy is refused')
})

t.test('same inputs give the same numbers: golden hashes', async t => {
  // Bump wow.version and these together whenever the rendered bytes change on purpose.
  const golden: Record<string, string> = {
    '8000:0.3': 'eefcea1acac16afd559df3ed5b38fc7c56b6132f53cd556edb3138c00c21f67a',
    '44100:0.5': '4ec7301896659691e0c82b105d5bc251a45b0675461293ee737a8828a61eeda0',
    '44100:0.9': '7ec0b9ac66f649bbedac10b5eedda3a06f4169bf0d336c0f7c651a09abf79994',
    '96000:0.7': '2b9209fe14c1a7c1cbcbea24fa6a80b061d83684e077e8d17fe18fa70dadf5ff'
  }
  for (const key of Object.keys(golden)) {
    const [rate, wear] = key.split(':').map(Number) as [number, number]
    const span = { sampleRate: rate, start: rate * 2, length: Math.round(rate / 2), wear }
    const first = goldenHash(renderSpan(wow, wowDefaults, span).out)
    t.equal(goldenHash(renderSpan(wow, wowDefaults, span).out), first, `${key} renders the same twice`)
    t.equal(first, golden[key], `${key} matches its golden hash`)
  }
})

t.test('more wear never sounds less worn: the difference from the original only rises', async t => {
  for (const sampleRate of RATES) {
    let previous = 0
    let falls = 0
    const source = musicSource(sampleRate, 2 * sampleRate)
    for (const wear of WEARS) {
      const { out, pristine } = renderSpan(wow, wowDefaults, { sampleRate, start: sampleRate, length: sampleRate, wear, source })
      const d = relativeDifferenceEnergy(out, pristine)
      if (d < previous) falls++
      previous = d
      if (wear === 0.9) t.ok(d >= 0.1, `${sampleRate} Hz: ${d.toFixed(3)} ≥ 0.1 at 90 % wear`)
      if (wear === 0.01) t.ok(d < 1e-3, `${sampleRate} Hz: close to the original at 1 % wear (${d.toExponential(2)})`)
    }
    t.equal(falls, 0, `${sampleRate} Hz: never falls over 100 wear steps`)
  }
})

t.test('the measure: peak pitch deviation rises with wear, and a steady tone wobbles more', async t => {
  let cents = 0
  for (const wear of WEARS) {
    const now = wowPeakCents(wear, wowDefaults)
    if (!(now > cents)) t.fail(`peak cents ${now} at wear ${wear} does not rise`)
    cents = now
  }
  t.equal(wowPeakCents(1, wowDefaults).toFixed(3), (1200 * Math.log2(1 + (2 ** (8 / 1200) - 1) + (2 ** (4 / 1200) - 1))).toFixed(3), 'at full wear, both LFOs’ cents')
  const sampleRate = 44100
  const tone = (from: number, frames: number): Float64Array[] =>
    [Float64Array.from({ length: frames }, (_, i) => 0.5 * Math.sin(2 * Math.PI * 110 * (from + i) / sampleRate))]
  let previous = 0
  for (const wear of [0.2, 0.4, 0.6, 0.8]) {
    const { out } = renderSpan(wow, wowDefaults, { sampleRate, start: sampleRate, length: 4 * sampleRate, wear, channels: 1, source: tone })
    const deviation = peakDeviationCents(out[0] as Float64Array, sampleRate, 110)
    t.ok(deviation > previous, `wear ${wear}: the tone deviates ${deviation.toFixed(2)} cents, more than ${previous.toFixed(2)}`)
    t.ok(deviation <= wowPeakCents(wear, wowDefaults), 'and no more than the measure allows')
    previous = deviation
  }
  t.ok(wowBlend(0.5, wowDefaults) < wowBlend(0.8, wowDefaults) && wowBlend(1, wowDefaults) === wowDefaults.mix)
})

/** Largest deviation of a tone's frequency over one period, from upward zero crossings, in cents. */
function peakDeviationCents (x: Float64Array, sampleRate: number, hz: number): number {
  const crossings: number[] = []
  for (let i = 1; i < x.length; i++) {
    const a = x[i - 1] as number
    const b = x[i] as number
    if (a < 0 && b >= 0) crossings.push(i - 1 + a / (a - b))
  }
  let worst = 0
  for (let k = 1; k < crossings.length; k++) {
    const f = sampleRate / ((crossings[k] as number) - (crossings[k - 1] as number))
    worst = Math.max(worst, Math.abs(1200 * Math.log2(f / hz)))
  }
  return worst
}

t.test('the segment keeps its length and its timing: a click is heard within the bounded delay', async t => {
  const sampleRate = 44100
  const click = 30000
  const source = (from: number, frames: number): Float64Array[] =>
    [Float64Array.from({ length: frames }, (_, i) => (from + i === click ? 1 : 0))]
  const maxDelay = wowMaxDelay(0.7, wowDefaults, sampleRate)
  const { out } = renderSpan(wow, wowDefaults, { sampleRate, start: 22050, length: 22050, wear: 0.7, channels: 1, source })
  const plane = out[0] as Float64Array
  t.equal(plane.length, 22050)
  let heard = -1
  let loudest = 0
  plane.forEach((v, i) => { if (Math.abs(v) > loudest) { loudest = Math.abs(v); heard = 22050 + i } })
  t.ok(heard >= click && heard <= click + Math.ceil(maxDelay) + 1, `click at ${click} heard at ${heard}, max delay ${maxDelay.toFixed(1)} frames`)
  t.ok(maxDelay > 0 && maxDelay < wow.preroll(sampleRate, wowDefaults))
})

t.test('at full wear every sample is exactly 0', async t => {
  for (const sampleRate of RATES) {
    const { out } = renderSpan(wow, wowDefaults, { sampleRate, start: sampleRate, length: sampleRate / 2, wear: 1 })
    t.ok(out.every(plane => plane.every(v => v === 0)), `${sampleRate} Hz`)
  }
})

t.test('position independence: one call equals two calls, split anywhere', async t => {
  for (const sampleRate of RATES) {
    for (const wear of [0.05, 0.5, 0.85]) {
      for (const split of [1, 777, Math.round(sampleRate / 4)]) {
        const d = splitDifference(wow, wowDefaults, { sampleRate, start: 3 * sampleRate + 13, length: Math.round(sampleRate / 2), wear }, split)
        if (d > 1e-9) t.fail(`${sampleRate} Hz, wear ${wear}, split ${split}: ${d}`)
      }
    }
    // At the start of a track the context is shorter than the preroll: silence before the first frame.
    const d = splitDifference(wow, wowDefaults, { sampleRate, start: 0, length: 2000, wear: 0.6 }, 20)
    t.ok(d <= 1e-9, `${sampleRate} Hz at the track start: ${d}`)
  }
})

t.test('channels are kept apart', async t => {
  const sampleRate = 44100
  const span = { sampleRate, start: sampleRate, length: 10000, wear: 0.6 }
  const a = renderSpan(wow, wowDefaults, span).out
  const otherRight = (from: number, frames: number): Float64Array[] => {
    const [left] = musicLike(sampleRate, frames, 2, from)
    return [left as Float64Array, new Float64Array(frames).fill(0.25)]
  }
  const b = renderSpan(wow, wowDefaults, { ...span, source: otherRight }).out
  t.same(a[0], b[0], 'the left output does not change when the right input does')
  t.not((a[1] as Float64Array)[5000], (b[1] as Float64Array)[5000])
})

t.test('mono and stereo at 8, 44.1 and 96 kHz: finite, bounded, full length', async t => {
  for (const sampleRate of RATES) {
    for (const channels of [1, 2]) {
      const { out } = renderSpan(wow, wowDefaults, { sampleRate, start: sampleRate, length: sampleRate / 2, wear: 0.5, channels })
      t.equal(out.length, channels)
      t.ok(out.every(plane => plane.length === sampleRate / 2 && plane.every(v => Number.isFinite(v) && Math.abs(v) < 2)), `${channels} channel(s) at ${sampleRate} Hz`)
    }
  }
})
