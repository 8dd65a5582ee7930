import t from 'tap'
import { tape, tapeCutoff } from '../../../lib/engines/tape.js'
import { contractChecks, renderSpan, SAMPLE_RATES, WEARS } from './engine-checks.js'

contractChecks(t, tape, '4656bcff49ea7c8902fea6da29fee1cae373f808f342fb7e9acbd032a2462a73')

// The corner of the schema: the slowest filter (the preroll must still settle it), the least level loss, the most drive and hiss.
t.test('at the bounds of the parameters', async t => contractChecks(t, tape, '1a0c3268298b5d9c7965cd653939e3f5f0b614796b15e5ebb5c8a5745f44c289', { finalCutoff: 300, drive: 6, hiss: -24, levelLoss: 3 }))

/** Energy above about 4 kHz: two RBJ Butterworth high-passes in cascade (24 dB/octave). */
function energyAbove (planes: Float64Array[], cutoff: number, sampleRate: number): number {
  const w0 = 2 * Math.PI * cutoff / sampleRate
  const cos = Math.cos(w0)
  const alpha = Math.sin(w0) / (2 * Math.SQRT1_2)
  const a0 = 1 + alpha
  const b = [(1 + cos) / 2 / a0, -(1 + cos) / a0, (1 + cos) / 2 / a0] as const
  const a = [-2 * cos / a0, (1 - alpha) / a0] as const
  let energy = 0
  for (const plane of planes) {
    let x = Float64Array.from(plane)
    for (let pass = 0; pass < 2; pass++) {
      const y = new Float64Array(x.length)
      let x1 = 0; let x2 = 0; let y1 = 0; let y2 = 0
      for (let i = 0; i < x.length; i++) {
        const v = x[i] as number
        const r = b[0] * v + b[1] * x1 + b[2] * x2 - a[0] * y1 - a[1] * y2
        x2 = x1; x1 = v; y2 = y1; y1 = r
        y[i] = r
      }
      x = y
    }
    // Skip the filter's own settling at the start.
    for (let i = 2000; i < x.length; i++) energy += (x[i] as number) ** 2
  }
  return energy
}

function energy (planes: Float64Array[]): number {
  let e = 0
  for (const p of planes) for (let i = 2000; i < p.length; i++) e += (p[i] as number) ** 2
  return e
}

t.test('the cutoff falls with wear from above 16 kHz to the final cutoff, always below Nyquist', async t => {
  for (const sampleRate of SAMPLE_RATES) {
    let previous = Infinity
    for (const wear of [0.0001, ...WEARS]) {
      const fc = tapeCutoff(wear, sampleRate, tape.defaults)
      t.ok(fc < previous && fc < sampleRate / 2, `${sampleRate} Hz, wear ${wear}: ${fc} Hz`)
      previous = fc
    }
    t.ok(Math.abs(tapeCutoff(1, sampleRate, tape.defaults) - Math.min(tape.defaults.finalCutoff, 0.45 * sampleRate)) < 1e-9)
    if (sampleRate >= 44100) t.ok(tapeCutoff(0.0001, sampleRate, tape.defaults) > 16000)
  }
})

t.test('measure: the high-frequency loss (share of energy above 4 kHz, against pristine) rises with wear', async t => {
  for (const sampleRate of [44100, 48000, 96000]) {
    const span = { sampleRate, channels: 2, start: sampleRate, length: sampleRate / 2 }
    const pristine = renderSpan(tape, tape.defaults, { ...span, wear: 0.5 }).pristine
    const pristineShare = energyAbove(pristine, 4000, sampleRate) / energy(pristine)
    let previous = -Infinity
    const falls: string[] = []
    let last = 0
    for (const wear of WEARS.slice(0, -1)) {
      const { out } = renderSpan(tape, tape.defaults, { ...span, wear })
      const loss = 1 - energyAbove(out, 4000, sampleRate) / energy(out) / pristineShare
      if (!(loss > previous)) falls.push(`${wear}: ${loss} ≤ ${previous}`)
      previous = loss
      last = loss
    }
    t.same(falls, [], `${sampleRate} Hz: the loss rises at every step`)
    t.ok(last > 0.95, `${sampleRate} Hz: nearly all the top end is gone at 99 % (${last})`)
  }
})

t.test('saturation never makes it louder', async t => {
  const span = { sampleRate: 44100, channels: 2, start: 0, length: 4410, wear: 0.7 }
  const clean = { ...tape.defaults, drive: 0, hiss: -120 }
  const driven = { ...tape.defaults, drive: 6, hiss: -120 }
  const alter = (planes: Float64Array[]): void => { for (const p of planes) for (let i = 0; i < p.length; i++) p[i] = Math.sin(i / 20) }
  t.ok(energy(renderSpan(tape, driven, { ...span, alter }).out) < energy(renderSpan(tape, clean, { ...span, alter }).out))
})
