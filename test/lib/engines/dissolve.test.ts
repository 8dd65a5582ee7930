import t from 'tap'
import { Value } from 'typebox/value'
import { dissolve, dissolveDefaults, dissolveMix, DissolveParamsSchema, dissolveWetDryRatio } from '../../../lib/engines/dissolve.js'
import { roomResponse } from '../../../lib/engines/room.js'
import { goldenHash, musicSource, renderSpan, splitDifference, undocumentedParams } from './harness.js'
import { musicLike, relativeDifferenceEnergy } from './signal.js'

const RATES = [8000, 44100, 96000]
const WEARS = Array.from({ length: 100 }, (_, k) => (k + 1) / 100)

t.test('params: the defaults are valid and documented', async t => {
  t.ok(Value.Check(DissolveParamsSchema, dissolveDefaults))
  t.same(Value.Create(DissolveParamsSchema), dissolveDefaults)
  t.same(undocumentedParams(DissolveParamsSchema), [])
  t.equal(dissolve.params, DissolveParamsSchema)
  t.equal(dissolve.preroll(44100, dissolveDefaults), Math.round(0.24 * 44100), 'the preroll is the room’s length')
})

t.test('same inputs give the same numbers: golden hashes', async t => {
  // Bump dissolve.version and these together whenever the rendered bytes change on purpose.
  const golden: Record<string, string> = {
    '8000:0.3': '95229866b112e7175c6d57813342bd5e649e69f78e2aaccaf67f28bc7f73d409',
    '44100:0.5': 'ec961aa7ec386e0e286dec9e90119ae213fba8779166357931d19bcffaf6d045',
    '44100:0.9': '10d3b2ebab2a49b2acebd9700164c44d93eb3090558442d186c4908e6b51ca79',
    '96000:0.7': '35180cc8676c3fecf7e422a624249423775c0714e89b1bb9c8fa3693e9c8a800'
  }
  for (const key of Object.keys(golden)) {
    const [rate, wear] = key.split(':').map(Number) as [number, number]
    const span = { sampleRate: rate, start: rate * 2, length: Math.round(rate / 2), wear }
    const first = goldenHash(renderSpan(dissolve, dissolveDefaults, span).out)
    t.equal(goldenHash(renderSpan(dissolve, dissolveDefaults, span).out), first, `${key} renders the same twice`)
    t.equal(first, golden[key], `${key} matches its golden hash`)
  }
})

t.test('more wear never sounds less worn: the difference from the original only rises', async t => {
  const cases = [...RATES.map(sampleRate => ({ sampleRate, seed: 0x5eed })), { sampleRate: 44100, seed: 1 }, { sampleRate: 44100, seed: 0xdeadbeef }]
  for (const { sampleRate, seed } of cases) {
    let previous = 0
    let falls = 0
    const source = musicSource(sampleRate, 2 * sampleRate)
    for (const wear of WEARS) {
      const { out, pristine } = renderSpan(dissolve, dissolveDefaults, { sampleRate, start: sampleRate, length: sampleRate, wear, seed, source })
      const d = relativeDifferenceEnergy(out, pristine)
      if (d < previous) falls++
      previous = d
      if (wear === 0.9) t.ok(d >= 0.1, `${sampleRate} Hz, seed ${seed}: ${d.toFixed(3)} ≥ 0.1 at 90 % wear`)
      if (wear === 0.01) t.ok(d < 1e-3, `${sampleRate} Hz, seed ${seed}: close to the original at 1 % wear (${d.toExponential(2)})`)
    }
    t.equal(falls, 0, `${sampleRate} Hz, seed ${seed}: never falls over 100 wear steps`)
  }
})

t.test('the measure: the wet/dry energy ratio rises with wear, as stated and as rendered', async t => {
  const sampleRate = 44100
  const source = musicSource(sampleRate, 2 * sampleRate)
  let stated = -1
  let rendered = -1
  for (const wear of WEARS.slice(0, -1)) {
    const ratio = dissolveWetDryRatio(wear)
    if (!(ratio > stated)) t.fail(`stated ratio ${ratio} at wear ${wear} does not rise`)
    stated = ratio
    const { dry } = dissolveMix(wear)
    const { out, pristine } = renderSpan(dissolve, dissolveDefaults, { sampleRate, start: sampleRate, length: sampleRate / 2, wear, source })
    let wetEnergy = 0
    let dryEnergy = 0
    out.forEach((plane, c) => plane.forEach((v, i) => {
      const d = dry * ((pristine[c] as Float64Array)[i] as number)
      wetEnergy += (v - d) ** 2
      dryEnergy += d * d
    }))
    const measured = wetEnergy / dryEnergy
    if (!(measured > rendered)) t.fail(`rendered ratio ${measured} at wear ${wear} does not rise`)
    rendered = measured
  }
  t.ok(rendered > 10, `mostly the room is left at 99 % wear (${rendered.toFixed(1)} times the music’s energy)`)
  t.equal(dissolveWetDryRatio(1), Infinity)
  const early = dissolveMix(0.01)
  t.ok(early.dry > 0.99 && early.wet < 0.02, 'at 1 % wear, nearly all dry')
})

t.test('the room: unit energy, silent before its first reflection, decaying', async t => {
  const h = roomResponse(42, { frames: 10000, predelay: 500, decay: 20000, damping: 0.6 })
  t.ok(h.subarray(0, 500).every(v => v === 0))
  t.ok(Math.abs(h.reduce((s, v) => s + v * v, 0) - 1) < 1e-12)
  const energy = (from: number, to: number): number => h.subarray(from, to).reduce((s, v) => s + v * v, 0)
  t.ok(energy(500, 2500) > energy(2500, 4500) && energy(2500, 4500) > energy(7500, 9500))
  t.equal(h[9999], 0, 'tapered to silence at its end')
})

t.test('at full wear every sample is exactly 0', async t => {
  for (const sampleRate of RATES) {
    const { out } = renderSpan(dissolve, dissolveDefaults, { sampleRate, start: sampleRate, length: sampleRate / 2, wear: 1 })
    t.ok(out.every(plane => plane.every(v => v === 0)), `${sampleRate} Hz`)
  }
})

t.test('position independence: one call equals two calls, split anywhere, to 1e-9', async t => {
  let worst = 0
  for (const sampleRate of RATES) {
    for (const wear of [0.05, 0.5, 0.85]) {
      for (const split of [1, 777, Math.round(sampleRate / 4)]) {
        const d = splitDifference(dissolve, dissolveDefaults, { sampleRate, start: 3 * sampleRate + 13, length: Math.round(sampleRate / 2), wear }, split)
        worst = Math.max(worst, d)
      }
    }
    // At the start of a track the context is shorter than the room: silence before the first frame.
    worst = Math.max(worst, splitDifference(dissolve, dissolveDefaults, { sampleRate, start: 0, length: 4000, wear: 0.6 }, 50))
  }
  // Two seconds at 96 kHz need several overlap-save blocks in one call.
  worst = Math.max(worst, splitDifference(dissolve, dissolveDefaults, { sampleRate: 96000, start: 96000, length: 192000, wear: 0.5 }, 100000))
  t.ok(worst <= 1e-9, `largest difference ${worst.toExponential(2)}`)
})

t.test('channels are kept apart', async t => {
  const sampleRate = 44100
  const span = { sampleRate, start: sampleRate, length: 10000, wear: 0.6 }
  const a = renderSpan(dissolve, dissolveDefaults, span).out
  const otherRight = (from: number, frames: number): Float64Array[] => {
    const [left] = musicLike(sampleRate, frames, 2, from)
    return [left as Float64Array, new Float64Array(frames).fill(0.25)]
  }
  const b = renderSpan(dissolve, dissolveDefaults, { ...span, source: otherRight }).out
  t.ok(maxAbsDifference(a[0] as Float64Array, b[0] as Float64Array) < 1e-12, 'the left output does not change when the right input does')
  t.ok(maxAbsDifference(a[1] as Float64Array, b[1] as Float64Array) > 0.01)
})

function maxAbsDifference (x: Float64Array, y: Float64Array): number {
  let worst = 0
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)))
  return worst
}

t.test('mono, stereo and three channels at 8, 44.1 and 96 kHz: finite, bounded, full length', async t => {
  for (const sampleRate of RATES) {
    for (const channels of [1, 2, 3]) {
      const { out } = renderSpan(dissolve, dissolveDefaults, { sampleRate, start: sampleRate, length: sampleRate / 2, wear: 0.5, channels })
      t.equal(out.length, channels)
      t.ok(out.every(plane => plane.length === sampleRate / 2 && plane.every(v => Number.isFinite(v) && Math.abs(v) < 2)), `${channels} channel(s) at ${sampleRate} Hz`)
    }
  }
  // A mono render is the left channel of the stereo one: packing two channels into one FFT changes nothing.
  const stereo = renderSpan(dissolve, dissolveDefaults, { sampleRate: 44100, start: 44100, length: 5000, wear: 0.5 }).out
  const mono = renderSpan(dissolve, dissolveDefaults, { sampleRate: 44100, start: 44100, length: 5000, wear: 0.5, channels: 1 }).out
  t.ok(maxAbsDifference(stereo[0] as Float64Array, mono[0] as Float64Array) < 1e-12)
})
