import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { fadeOut, noiseAt, type DecayEngine, type EngineInput } from './engine.js'

/**
 * Fidelity: bit depth and sample rate fall. Each sample is quantised to
 * fewer and fewer bits (with TPDF dither, so the error is hiss rather than
 * distortion until the very end) and held for k frames, k growing with
 * wear: the sound turns grainy and aliased before it fades away.
 */
export const FidelityParamsSchema = Type.Object({
  finalBits: Type.Number({ default: 5, minimum: 2, maximum: 12, description: 'Bit depth at full wear (fractional depths are allowed: the step size is 2^(1 − bits))' }),
  finalRate: Type.Number({ default: 3000, minimum: 500, maximum: 24000, description: 'Effective sample rate in Hz at full wear (never above the real rate)' }),
  levelLoss: Type.Number({ default: 4, minimum: 2, maximum: 12, description: 'Output level lost at full wear, in dB. It keeps the output nearer the pristine audio than silence is, so the closing fade only ever adds wear' })
})
export type FidelityParams = Static<typeof FidelityParamsSchema>

/** The depth at the slightest wear: the quantisation noise of a CD. */
const START_BITS = 16
const DITHER_STREAM = 0xd17e
const BITS_DONE = 0.5

export interface FidelitySettings {
  /** Effective bit depth. */
  bits: number
  /** Frames each held sample lasts (1: no decimation). */
  hold: number
  /** sampleRate / hold. */
  effectiveRate: number
}

/**
 * First the bits fall (linearly, up to BITS_DONE), then the rate (log-linearly,
 * on to full wear, through the fade). One at a time, because once samples are
 * held, every change of step size reshuffles the roundings and the error can
 * come out a hair smaller than at the wear before.
 */
export function fidelitySettings (wear: number, sampleRate: number, params: FidelityParams): FidelitySettings {
  const bitsWear = Math.min(1, wear / BITS_DONE)
  const rateWear = Math.max(0, (wear - BITS_DONE) / (1 - BITS_DONE))
  const bits = START_BITS + (params.finalBits - START_BITS) * bitsWear
  const finalRate = Math.min(params.finalRate, sampleRate)
  const rate = sampleRate * Math.pow(finalRate / sampleRate, rateWear)
  // The small margin keeps an exact ratio (44,100 / 11,025) from flooring one short through rounding.
  const hold = Math.max(1, Math.floor(sampleRate / rate + 1e-9))
  return { bits, hold, effectiveRate: sampleRate / hold }
}

function render (input: EngineInput, params: FidelityParams, out: Float64Array[]): void {
  const { wear, sampleRate, preroll, start, length, seed } = input
  const gain = fadeOut(wear) * Math.pow(10, -params.levelLoss * wear / 20)
  if (gain === 0) {
    for (const plane of out) plane.fill(0)
    return
  }
  const { bits, hold } = fidelitySettings(wear, sampleRate, params)
  const step = Math.pow(2, 1 - bits)
  const first = start - preroll
  for (let c = 0; c < out.length; c++) {
    const source = input.channels[c] as Float64Array
    const target = out[c] as Float64Array
    const streamA = DITHER_STREAM + 2 * c
    const streamB = streamA + 1
    // Holds are aligned to absolute frames (multiples of `hold`), so a hold that began in the preroll is the same hold.
    let heldFrame = -1
    let held = 0
    for (let i = 0; i < length; i++) {
      const frame = start + i
      const holdFrame = frame - frame % hold
      if (holdFrame !== heldFrame) {
        heldFrame = holdFrame
        const x = source[holdFrame - first] as number
        // TPDF: two uniform values of ±½ step each, summed, decorrelate the error from the signal.
        const dither = 0.5 * (noiseAt(seed, streamA, holdFrame) + noiseAt(seed, streamB, holdFrame))
        held = Math.min(1, Math.max(-1, step * Math.round(x / step + dither)))
      }
      target[i] = gain * held
    }
  }
}

export const fidelity: DecayEngine<FidelityParams> = {
  id: 'fidelity',
  name: 'Fidelity',
  description: 'Bit depth and sample rate fall: the sound turns grainy, then coarse and aliased, then fades away.',
  version: 1,
  params: FidelityParamsSchema,
  defaults: Value.Create(FidelityParamsSchema),
  measure: 'Effective bits (16 down to finalBits, linear in wear) and effective sample rate (down to finalRate, log-linear) from fidelitySettings; the signal-to-error ratio of the output falls with wear',
  preroll: (sampleRate, params) => fidelitySettings(1, sampleRate, params).hold - 1,
  render
}
