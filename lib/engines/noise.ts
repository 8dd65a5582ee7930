import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { fadeOut, noiseAt, type DecayEngine, type EngineInput } from './engine.js'

/**
 * Noise: hiss and crackle rise while the music sinks beneath them, until
 * the noise buries it; then everything, noise too, fades to silence. The
 * music is only ever scaled (never filtered), so the engine is linear in its
 * input: out(x) = level · x + noise, and the signal-to-noise ratio is exact.
 */
export const NoiseParamsSchema = Type.Object({
  hiss: Type.Number({ default: -30, minimum: -80, maximum: -20, description: 'Hiss level at full wear (before the fade), in dB relative to full scale (RMS)' }),
  crackle: Type.Number({ default: 0.2, minimum: 0, maximum: 0.5, description: 'Peak amplitude of the loudest crackle at full wear (before the fade)' }),
  crackleRate: Type.Number({ default: 30, minimum: 0, maximum: 200, description: 'Crackles per second at full wear; the rate grows in proportion to wear' }),
  musicLoss: Type.Number({ default: 24, minimum: 12, maximum: 60, description: 'How far the music sinks at full wear (before the fade), in dB' })
})
export type NoiseParams = Static<typeof NoiseParamsSchema>

const HISS_STREAM = 0x4155
const CRACKLE_STREAM = 0xc7ac
const AMPLITUDE_STREAM = 0xa3b1
const UNIFORM_TO_UNIT_RMS = Math.sqrt(3)
/** A pop rises over about 0.1 ms and dies over about 1 ms: a tick, not a one-sample spike. */
const POP_RISE_SECONDS = 0.0001
const POP_DECAY_SECONDS = 0.001
/** 40 decay time constants: a pop that began before the preroll has shrunk by e^-40, below double precision. */
const PREROLL_SECONDS = 40 * POP_DECAY_SECONDS

export interface NoiseLevels {
  /** Gain of the music, before the fade. */
  music: number
  /** RMS of the hiss, before the fade. */
  hiss: number
  /** Peak of the loudest crackle, before the fade. */
  crackle: number
  /** Expected crackles per second. */
  crackleRate: number
  /** The closing fade over all of it. */
  fade: number
}

export function noiseLevels (wear: number, params: NoiseParams): NoiseLevels {
  return {
    music: Math.pow(10, -params.musicLoss * wear / 20),
    hiss: Math.pow(10, params.hiss / 20) * wear,
    crackle: params.crackle * wear,
    crackleRate: params.crackleRate * wear,
    fade: fadeOut(wear)
  }
}

function render (input: EngineInput, params: NoiseParams, out: Float64Array[]): void {
  const { wear, sampleRate, preroll, start, length, seed } = input
  const levels = noiseLevels(wear, params)
  if (levels.fade === 0) {
    for (const plane of out) plane.fill(0)
    return
  }
  const music = levels.fade * levels.music
  const hiss = levels.fade * levels.hiss * UNIFORM_TO_UNIT_RMS
  const crackle = levels.fade * levels.crackle
  // A frame crackles when its uniform value falls below this: the set of crackles only grows with wear.
  const threshold = 2 * Math.min(1, levels.crackleRate / sampleRate) - 1
  const decay = Math.exp(-1 / (POP_DECAY_SECONDS * sampleRate))
  const rise = 1 - Math.exp(-1 / (POP_RISE_SECONDS * sampleRate))
  const first = start - preroll
  for (let c = 0; c < out.length; c++) {
    const source = input.channels[c] as Float64Array
    const target = out[c] as Float64Array
    const crackleStream = CRACKLE_STREAM + c
    const amplitudeStream = AMPLITUDE_STREAM + c
    let kick = 0
    let pop = 0
    // Crackles start in the preroll too, so a pop that straddles a segment boundary is the same pop.
    for (let i = 0; i < preroll + length; i++) {
      const frame = first + i
      kick *= decay
      if (noiseAt(seed, crackleStream, frame) < threshold) kick += crackle * noiseAt(seed, amplitudeStream, frame)
      pop += rise * (kick - pop)
      if (i >= preroll) {
        target[i - preroll] = music * (source[i] as number) + hiss * noiseAt(seed, HISS_STREAM + c, frame) + pop
      }
    }
  }
}

export const noise: DecayEngine<NoiseParams> = {
  id: 'noise',
  name: 'Noise',
  description: 'Hiss and crackle rise until they bury the music, then the noise itself fades to silence.',
  version: 1,
  params: NoiseParamsSchema,
  defaults: Value.Create(NoiseParamsSchema),
  measure: 'Signal-to-noise ratio: energy of the music part of the output (noiseLevels().music × fade × input) over the energy of the hiss and crackle; it falls with wear',
  preroll: (sampleRate) => Math.ceil(PREROLL_SECONDS * sampleRate),
  render
}
