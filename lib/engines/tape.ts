import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { fadeOut, noiseAt, type DecayEngine, type EngineInput } from './engine.js'

/**
 * Tape: the top end goes first. A Butterworth low-pass whose cutoff slides
 * (log-linearly) from just below Nyquist (above 21 kHz at 44.1 kHz) down to `finalCutoff`, a soft saturation
 * that grows with wear, hiss that rises under the same worn head, an output
 * level that sags as the oxide thins, and at the end the common fade.
 */
export const TapeParamsSchema = Type.Object({
  finalCutoff: Type.Number({ default: 400, minimum: 300, maximum: 4000, description: 'Low-pass cutoff in Hz at full wear (kept below 0.45 × the sample rate). Not lower: around the cutoff the filter turns the phase so far that the output would differ from the pristine audio more than silence does, and the closing fade would then sound less worn' }),
  drive: Type.Number({ default: 2, minimum: 0, maximum: 6, description: 'Saturation drive at full wear: 0 is clean, 2 squashes full-scale peaks to about half' }),
  hiss: Type.Number({ default: -48, minimum: -120, maximum: -24, description: 'Hiss level at full wear, in dB relative to full scale (RMS of the white source)' }),
  levelLoss: Type.Number({ default: 4, minimum: 3, maximum: 12, description: 'Output level lost at full wear, in dB: worn oxide plays back quieter, and the lower level keeps the output nearer the pristine audio than silence is, so the closing fade only ever adds wear' })
})
export type TapeParams = Static<typeof TapeParamsSchema>

/**
 * Where the cutoff starts at the slightest wear: just below Nyquist, where the
 * bilinear low-pass is flat across the audible band (even a 20 kHz cutoff
 * would audibly turn the phase of the highs at once).
 */
const START_CUTOFF_SHARE = 0.49
/** The final cutoff stays this far below Nyquist at low sample rates. */
const MAX_CUTOFF_SHARE = 0.45
/** Butterworth: the flattest pass band, and poles damped enough to settle quickly. */
const Q = Math.SQRT1_2
/** Time constants of the slowest filter that the preroll spans: e^-36 ≈ 2e-16, below double precision. */
const SETTLE_TIME_CONSTANTS = 36
const MAX_PREROLL_SECONDS = 0.05
/** noiseAt is uniform in [-1, 1): RMS 1/√3, scaled to RMS 1 so `hiss` is a true RMS level. */
const UNIFORM_TO_UNIT_RMS = Math.sqrt(3)
const HISS_STREAM = 0x7a9e

export function tapeCutoff (wear: number, sampleRate: number, params: TapeParams): number {
  const top = START_CUTOFF_SHARE * sampleRate
  const bottom = Math.min(params.finalCutoff, MAX_CUTOFF_SHARE * sampleRate)
  return top * Math.pow(bottom / top, wear)
}

/** Frames per time constant of the low-pass's poles, whose radius is √a2 (they are a complex pair). */
function settleFrames (cutoff: number, sampleRate: number): number {
  const alpha = Math.sin(2 * Math.PI * cutoff / sampleRate) / (2 * Q)
  return -1 / Math.log(Math.sqrt((1 - alpha) / (1 + alpha)))
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
  const first = start - preroll
  for (let c = 0; c < out.length; c++) {
    const source = input.channels[c] as Float64Array
    const target = out[c] as Float64Array
    const stream = HISS_STREAM + c
    // Transposed direct form II; the state starts at rest at the start of the preroll.
    let s1 = 0
    let s2 = 0
    for (let i = 0; i < preroll + length; i++) {
      let x = source[i] as number
      if (drive > 0) x = softClip(drive * x) / drive
      x += hiss * noiseAt(seed, stream, first + i)
      const y = b0 * x + s1
      s1 = b1 * x - a1 * y + s2
      s2 = b0 * x - a2 * y
      if (i >= preroll) target[i - preroll] = gain * y
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
    // The slowest poles are at the ends of the cutoff's range: low cutoffs, and cutoffs close to Nyquist.
    const slowest = Math.max(settleFrames(tapeCutoff(0, sampleRate, params), sampleRate), settleFrames(tapeCutoff(1, sampleRate, params), sampleRate))
    return Math.ceil(Math.min(MAX_PREROLL_SECONDS * sampleRate, SETTLE_TIME_CONSTANTS * slowest))
  },
  render
}
