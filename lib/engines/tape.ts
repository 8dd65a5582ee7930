import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { fadeOut, noiseAt, type DecayEngine, type EngineInput } from './engine.js'

/**
 * Tape: the top end goes first. A Butterworth low-pass whose cutoff slides
 * (log-linearly) from above 16 kHz down to `finalCutoff`, a soft saturation
 * that grows with wear, hiss that rises under the same worn head, an output
 * level that sags as the oxide thins, and at the end the common fade.
 */
export const TapeParamsSchema = Type.Object({
  finalCutoff: Type.Number({ default: 400, minimum: 150, maximum: 4000, description: 'Low-pass cutoff in Hz at full wear (kept below 0.45 × the sample rate)' }),
  drive: Type.Number({ default: 2, minimum: 0, maximum: 6, description: 'Saturation drive at full wear: 0 is clean, 2 squashes full-scale peaks to about half' }),
  hiss: Type.Number({ default: -48, minimum: -120, maximum: -24, description: 'Hiss level at full wear, in dB relative to full scale (RMS of the white source)' }),
  levelLoss: Type.Number({ default: 4, minimum: 0, maximum: 12, description: 'Output level lost at full wear, in dB (worn oxide plays back quieter)' })
})
export type TapeParams = Static<typeof TapeParamsSchema>

/** Where the cutoff starts at the slightest wear: above hearing, but always below Nyquist. */
const START_CUTOFF = 20000
const MAX_CUTOFF_SHARE = 0.45
/** Butterworth: the flattest pass band, and poles damped enough to settle quickly. */
const Q = Math.SQRT1_2
/** Time constants of the slowest filter that the preroll spans: e^-36 ≈ 2e-16, below double precision. */
const SETTLE_TIME_CONSTANTS = 36
const MAX_PREROLL_SECONDS = 0.05
/** noiseAt is uniform in [-1, 1): RMS 1/√3, scaled to RMS 1 so `hiss` is a true RMS level. */
const UNIFORM_TO_UNIT_RMS = Math.sqrt(3)
const HISS_STREAM = 0x7a9e
/** Even a 20 kHz low-pass shifts the phase of the highs; the worn sound is blended in over the first wear so w → 0 is the pristine audio. */
const BLEND_IN_WEAR = 0.05

export function tapeCutoff (wear: number, sampleRate: number, params: TapeParams): number {
  const top = Math.min(START_CUTOFF, MAX_CUTOFF_SHARE * sampleRate)
  const bottom = Math.min(params.finalCutoff, top)
  return top * Math.pow(bottom / top, wear)
}

/** Padé tanh: only +, × and ÷, so every machine rounds it alike; exactly ±1 from |x| = 3 on. */
function softClip (x: number): number {
  if (x >= 3) return 1
  if (x <= -3) return -1
  const x2 = x * x
  return x * (27 + x2) / (27 + 9 * x2)
}

function render (input: EngineInput, params: TapeParams, out: Float64Array[]): void {
  const { wear, sampleRate, preroll, start, length, seed } = input
  const gain = fadeOut(wear) * Math.pow(10, -params.levelLoss * wear / 20)
  if (gain === 0) {
    for (const plane of out) plane.fill(0)
    return
  }
  // RBJ cookbook low-pass, normalised by a0.
  const w0 = 2 * Math.PI * tapeCutoff(wear, sampleRate, params) / sampleRate
  const cosW0 = Math.cos(w0)
  const alpha = Math.sin(w0) / (2 * Q)
  const a0 = 1 + alpha
  const b0 = (1 - cosW0) / 2 / a0
  const b1 = (1 - cosW0) / a0
  const a1 = -2 * cosW0 / a0
  const a2 = (1 - alpha) / a0
  // tanh(d·x)/d: unity gain for quiet passages, so it only ever pulls peaks down.
  const drive = params.drive * wear
  const hiss = Math.pow(10, params.hiss / 20) * UNIFORM_TO_UNIT_RMS * wear
  const wet = Math.min(1, wear / BLEND_IN_WEAR)
  const dry = 1 - wet
  const first = start - preroll
  for (let c = 0; c < out.length; c++) {
    const source = input.channels[c] as Float64Array
    const target = out[c] as Float64Array
    const stream = HISS_STREAM + c
    // Transposed direct form II; the state starts at rest at the start of the preroll.
    let s1 = 0
    let s2 = 0
    for (let i = 0; i < preroll + length; i++) {
      const pristine = source[i] as number
      let x = pristine
      if (drive > 0) x = softClip(drive * x) / drive
      x += hiss * noiseAt(seed, stream, first + i)
      const y = b0 * x + s1
      s1 = b1 * x - a1 * y + s2
      s2 = b0 * x - a2 * y
      if (i >= preroll) target[i - preroll] = gain * (wet * y + dry * pristine)
    }
  }
}

export const tape: DecayEngine<TapeParams> = {
  id: 'tape',
  name: 'Tape',
  description: 'The top end goes first: highs dull to a muffled murmur, peaks soften, hiss creeps up, then it fades away.',
  version: 1,
  params: TapeParamsSchema,
  defaults: Value.Create(TapeParamsSchema),
  measure: 'High-frequency loss: 1 − (share of energy above 4 kHz in the output) / (that share in the pristine audio); the low-pass cutoff (tapeCutoff) falls log-linearly with wear',
  preroll: (sampleRate, params) => {
    // The slowest poles are those of the lowest cutoff; a Butterworth pair decays at ω·sin(45°).
    const lowest = Math.min(params.finalCutoff, MAX_CUTOFF_SHARE * sampleRate)
    const timeConstant = 1 / (2 * Math.PI * lowest * Q)
    return Math.ceil(sampleRate * Math.min(MAX_PREROLL_SECONDS, SETTLE_TIME_CONSTANTS * timeConstant))
  },
  render
}
