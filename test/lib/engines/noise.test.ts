import t from 'tap'
import { noise, noiseLevels } from '../../../lib/engines/noise.js'
import { contractChecks, renderSpan, SAMPLE_RATES, WEARS, type Span } from './engine-checks.js'

contractChecks(t, noise, '8d9b3697093c2b481c55cbf0f6657adbbb59729904ef666b53764a5f63aa695a')

function energy (planes: Float64Array[]): number {
  let e = 0
  for (const p of planes) for (const v of p) e += v * v
  return e
}

/** The engine is linear in its input: rendering silence gives the noise alone, and the rest is the music. */
function snr (span: Span): number {
  const { out } = renderSpan(noise, noise.defaults, span)
  const alone = renderSpan(noise, noise.defaults, { ...span, alter: planes => { for (const p of planes) p.fill(0) } }).out
  const music = out.map((plane, c) => plane.map((v, i) => v - ((alone[c] as Float64Array)[i] as number)))
  return 10 * Math.log10(energy(music) / energy(alone))
}

t.test('measure: the signal-to-noise ratio falls with wear, and the noise buries the music', async t => {
  for (const sampleRate of SAMPLE_RATES) {
    const span = { sampleRate, channels: 2, start: sampleRate, length: sampleRate / 2 }
    let previous = Infinity
    const rises: string[] = []
    for (const wear of WEARS.slice(0, -1)) {
      const now = snr({ ...span, wear })
      if (!(now < previous)) rises.push(`${wear}: ${now} ≥ ${previous}`)
      previous = now
    }
    t.same(rises, [], `${sampleRate} Hz`)
    t.ok(snr({ ...span, wear: 0.8 }) < 0, `${sampleRate} Hz: buried at 80 %`)
    t.ok(snr({ ...span, wear: 0.01 }) > 30, `${sampleRate} Hz: barely audible at 1 %`)
  }
})

t.test('the music part is the input scaled by the music level and the fade', async t => {
  const span = { sampleRate: 48000, channels: 1, start: 48000, length: 4800, wear: 0.9 }
  const { out, pristine } = renderSpan(noise, noise.defaults, span)
  const alone = renderSpan(noise, noise.defaults, { ...span, alter: planes => { for (const p of planes) p.fill(0) } }).out
  const levels = noiseLevels(0.9, noise.defaults)
  let worst = 0
  for (let i = 0; i < span.length; i++) {
    const music = ((out[0] as Float64Array)[i] as number) - ((alone[0] as Float64Array)[i] as number)
    worst = Math.max(worst, Math.abs(music - levels.fade * levels.music * ((pristine[0] as Float64Array)[i] as number)))
  }
  t.ok(worst < 1e-12)
})

t.test('a crackle is a short pop, not a one-sample spike', async t => {
  const params = { ...noise.defaults, hiss: -80 }
  const span = { sampleRate: 44100, channels: 1, start: 0, length: 44100, wear: 0.7, alter: (planes: Float64Array[]) => { for (const p of planes) p.fill(0) } }
  const { out } = renderSpan(noise, params, span)
  const plane = out[0] as Float64Array
  let peak = 0
  let steepest = 0
  for (let i = 1; i < plane.length; i++) {
    peak = Math.max(peak, Math.abs(plane[i] as number))
    steepest = Math.max(steepest, Math.abs((plane[i] as number) - (plane[i - 1] as number)))
  }
  t.ok(peak > 0.02, `crackles are there (${peak})`)
  t.ok(steepest < 0.5 * peak, `no sample jumps by half a pop (${steepest} of ${peak})`)
})
