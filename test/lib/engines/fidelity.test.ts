import t from 'tap'
import { fidelity, fidelitySettings } from '../../../lib/engines/fidelity.js'
import { contractChecks, renderSpan, SAMPLE_RATES, WEARS } from './engine-checks.js'

contractChecks(t, fidelity, '3c8ca397980933b7768312e482b8a02713ffba769321ac671c790cea63b0a7d7')

t.test('measure: effective bits and effective sample rate fall with wear, to the final values', async t => {
  for (const sampleRate of SAMPLE_RATES) {
    let previous = fidelitySettings(0.0001, sampleRate, fidelity.defaults)
    t.ok(previous.bits > 15.99 && previous.hold === 1, `${sampleRate} Hz: close to CD quality at the slightest wear`)
    for (const wear of WEARS) {
      const now = fidelitySettings(wear, sampleRate, fidelity.defaults)
      t.ok(now.bits <= previous.bits && now.effectiveRate <= previous.effectiveRate && Number.isInteger(now.hold), `${sampleRate} Hz, wear ${wear}: ${now.bits} bits at ${now.effectiveRate} Hz`)
      previous = now
    }
    t.equal(previous.bits, fidelity.defaults.finalBits)
    t.ok(previous.effectiveRate >= Math.min(fidelity.defaults.finalRate, sampleRate) && previous.effectiveRate < 2 * Math.min(fidelity.defaults.finalRate, sampleRate), `${sampleRate} Hz: ends within a whole hold of finalRate (${previous.effectiveRate} Hz)`)
  }
})

t.test('measure: the signal-to-quantisation-error ratio worsens with wear', async t => {
  const span = { sampleRate: 44100, channels: 2, start: 44100, length: 22050 }
  let previous = Infinity
  for (const wear of WEARS.filter(w => w <= 0.8)) {
    const { out, pristine } = renderSpan(fidelity, fidelity.defaults, { ...span, wear })
    const { hold } = fidelitySettings(wear, span.sampleRate, fidelity.defaults)
    const gain = Math.pow(10, -fidelity.defaults.levelLoss * wear / 20)
    // Against the held pristine sample, so only the quantisation error counts.
    let signal = 0
    let error = 0
    for (let c = 0; c < out.length; c++) {
      const o = out[c] as Float64Array
      const p = pristine[c] as Float64Array
      for (let i = 0; i < o.length; i++) {
        const frame = span.start + i
        const held = p[frame - frame % hold - span.start] ?? 0
        signal += held * held
        error += ((o[i] as number) / gain - held) ** 2
      }
    }
    const snr = 10 * Math.log10(signal / error)
    // Once the bits are spent (half wear) the error only reshuffles as the holds grow: allow it 0.5 dB.
    t.ok(wear <= 0.5 ? snr < previous : snr < previous + 0.5, `wear ${wear}: SNR ${snr.toFixed(2)} dB`)
    previous = Math.min(previous, snr)
  }
  t.ok(previous < 30, 'five bits leave less than 30 dB')
})

t.test('samples are held in blocks aligned to absolute frames', async t => {
  const sampleRate = 44100
  const wear = 0.9
  const { hold } = fidelitySettings(wear, sampleRate, fidelity.defaults)
  t.ok(hold > 1)
  const start = 44100 + 5
  const { out } = renderSpan(fidelity, fidelity.defaults, { sampleRate, channels: 1, start, length: 2000, wear })
  const plane = out[0] as Float64Array
  let broken = 0
  for (let i = 1; i < plane.length; i++) {
    if ((start + i) % hold !== 0 && plane[i] !== plane[i - 1]) broken++
  }
  t.equal(broken, 0)
})
