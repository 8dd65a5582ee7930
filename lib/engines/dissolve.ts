import { Type } from 'typebox'
import { fadeOut, type DecayEngine, type EngineInput } from './engine.js'
import { fftPlan, fftToBitReversed, inverseFftFromBitReversed, type FftPlan } from './fft.js'
import { roomSpectrum, type RoomShape } from './room.js'

/**
 * The music washes into a growing reverb, the dry signal falling away, until
 * only a fading room is left. The reverb is a convolution with a seeded
 * noise response of bounded length (lib/engines/room.ts), done by FFT
 * overlap-save: exact and position independent (split renders agree to
 * rounding, about 1e-15), unlike a Freeverb, whose combs would need seconds
 * of preroll to settle below 1e-6 and would cost several times the budget
 * to run over it. Both channels go through one complex FFT (left as the
 * real part, right as the imaginary part): the room is real, so they never mix.
 */
export const DissolveParamsSchema = Type.Object({
  roomSeconds: Type.Number({ default: 0.24, minimum: 0.05, maximum: 1, description: 'Length of the reverb tail in seconds, which is also the pristine context read before a segment. Beyond 0.24 s a half-second segment needs a larger FFT, about twice the render time.' }),
  decaySeconds: Type.Number({ default: 0.6, minimum: 0.1, maximum: 3, description: 'Time for the room to fall by 60 dB (RT60), in seconds, before the tail is tapered to silence at roomSeconds.' }),
  predelayMs: Type.Number({ default: 12, minimum: 0, maximum: 50, description: 'Silence before the first reflection, in milliseconds.' }),
  damping: Type.Number({ default: 0.6, minimum: 0, maximum: 1, description: 'How much darker the tail becomes as it decays (0: not at all).' })
})

export interface DissolveParams {
  roomSeconds: number
  decaySeconds: number
  predelayMs: number
  damping: number
  [name: string]: number
}

export const dissolveDefaults: DissolveParams = { roomSeconds: 0.24, decaySeconds: 0.6, predelayMs: 12, damping: 0.6 }

function roomShape (sampleRate: number, params: DissolveParams): RoomShape {
  const frames = Math.max(2, Math.round(params.roomSeconds * sampleRate))
  return {
    frames,
    predelay: Math.min(frames - 1, Math.round(params.predelayMs / 1000 * sampleRate)),
    decay: Math.max(1, params.decaySeconds * sampleRate),
    damping: params.damping
  }
}

/*
 * The wet/dry path. Out = dry·x + wet·r (r: the reverb of x, unit-energy room).
 * Its difference from x has energy (1 − dry)² + wet²·E_r − 2(1 − dry)·wet·C
 * (relative to x; E_r, C depend on the music), a quadratic form around
 * (dry, wet) = (1, 0). Moving straight away from that point, it grows for any
 * music; so up to HOLD the mix walks a straight line (dry falls, wet rises).
 * Then a logarithmic spiral around (1, 0) turns towards silence while its
 * radius grows by SPIRAL per radian: fast enough to outweigh the form's change
 * with angle for E_r within about 0.5…1.5 and |C| ≤ 0.3. From FADE_FROM the
 * wet part fades as g (g = fadeOut), the dry one as g·(1 + g)/2, so the room
 * outlasts the music; the dry part stays at least a quarter of the wet one,
 * enough to keep the mix correlated with x while it falls to silence, so its
 * difference from x keeps rising to E|x|² (letting the dry part go to zero
 * first made it overshoot and fall back at 8 kHz).
 */
const HOLD = 0.4
const FADE_FROM = 0.8
const START_ANGLE = 1.1
const END_ANGLE = 0.2
const HOLD_RADIUS = 0.45
const SPIRAL = 0.8

/** Dry and wet gains at this wear. */
export function dissolveMix (wear: number): { dry: number, wet: number } {
  let radius: number
  let angle: number
  if (wear <= HOLD) {
    radius = HOLD_RADIUS * wear / HOLD
    angle = START_ANGLE
  } else {
    const s = Math.min(1, (wear - HOLD) / (FADE_FROM - HOLD))
    angle = START_ANGLE + (END_ANGLE - START_ANGLE) * s
    radius = HOLD_RADIUS * Math.exp(SPIRAL * (START_ANGLE - angle))
  }
  const g = fadeOut(wear, FADE_FROM)
  return { dry: g * (0.5 + 0.5 * g) * (1 - radius * Math.cos(angle)), wet: g * radius * Math.sin(angle) }
}

/** The engine's measure: wet over dry energy, (wet/dry)² for the unit-energy room; Infinity at full wear, where both are 0. */
export function dissolveWetDryRatio (wear: number): number {
  const { dry, wet } = dissolveMix(wear)
  return dry === 0 ? Infinity : (wet / dry) ** 2
}

/** A 0.5 s segment at 44.1 kHz with the default room fits one FFT of 2^15; longer spans go in blocks of at most 2^16. */
const LARGEST_FFT = 65536

let re = new Float64Array(0)
let im = new Float64Array(0)

function render (input: EngineInput, params: DissolveParams, out: Float64Array[]): void {
  renderWears(input, params, [input.wear], [out])
}

/**
 * The output at several wears from one convolution: only the dry and wet
 * gains depend on the wear, so a play that needs its segment's sound and its
 * neighbours' (the cross-fades) pays for the room once.
 */
function renderWears (input: EngineInput, params: DissolveParams, wears: readonly number[], outs: Float64Array[][]): void {
  const mixes = wears.map(dissolveMix)
  const live = mixes.some(m => m.dry !== 0 || m.wet !== 0)
  mixes.forEach((m, w) => { if (m.dry === 0 && m.wet === 0) for (const plane of outs[w] as Float64Array[]) plane.fill(0) })
  if (!live) return
  const { channels, length, preroll, sampleRate, seed } = input
  const shape = roomShape(sampleRate, params)
  const L = shape.frames
  let size = 4
  while (size < length + L - 1 && size < LARGEST_FFT) size <<= 1
  while (size < 2 * L) size <<= 1
  const block = size - L + 1
  const plan = fftPlan(size)
  const room = roomSpectrum(seed, shape, size)
  if (re.length < size) {
    re = new Float64Array(size)
    im = new Float64Array(size)
  }
  const planes = outs[0]?.length ?? 0
  for (let c = 0; c < planes; c += 2) {
    const left = channels[c] as Float64Array
    const right = c + 1 < planes ? channels[c + 1] as Float64Array : undefined
    for (let o = 0; o < length; o += block) {
      const n = Math.min(block, length - o)
      convolveBlock(left, right, preroll + o - (L - 1), n + L - 1, size, plan, room)
      mixes.forEach(({ dry, wet }, w) => {
        if (dry === 0 && wet === 0) return
        const out = outs[w] as Float64Array[]
        writeMix(out[c] as Float64Array, left, re, o, n, preroll, L, dry, wet)
        if (right !== undefined) writeMix(out[c + 1] as Float64Array, right, im, o, n, preroll, L, dry, wet)
      })
    }
  }
}

/** Load `span` frames from `from` (silence before the track) into re/im, zero-pad, and convolve with the room. */
function convolveBlock (left: Float64Array, right: Float64Array | undefined, from: number, span: number, size: number,
  plan: FftPlan, room: { re: Float64Array, im: Float64Array }): void {
  for (let j = 0; j < size; j++) {
    const idx = from + j
    const inside = idx >= 0 && j < span
    re[j] = inside ? left[idx] as number : 0
    im[j] = inside && right !== undefined ? right[idx] as number : 0
  }
  fftToBitReversed(plan, re, im)
  const hr = room.re
  const hi = room.im
  for (let k = 0; k < size; k++) {
    const xr = re[k] as number
    const xi = im[k] as number
    const a = hr[k] as number
    const b = hi[k] as number
    re[k] = xr * a - xi * b
    im[k] = xr * b + xi * a
  }
  inverseFftFromBitReversed(plan, re, im)
}

/** Out frames [o, o + n) from the dry input and the wet result (whose frame i sits at L − 1 + i). */
function writeMix (y: Float64Array, x: Float64Array, wetPart: Float64Array, o: number, n: number, preroll: number, L: number, dry: number, wet: number): void {
  for (let i = 0; i < n; i++) {
    y[o + i] = dry * (x[preroll + o + i] as number) + wet * (wetPart[L - 1 + i] as number)
  }
}

export const dissolve: DecayEngine<DissolveParams> = {
  id: 'dissolve',
  name: 'Dissolve',
  description: 'The music washes into a growing reverb while the dry sound falls away, until only a fading room is left.',
  version: 1,
  params: DissolveParamsSchema,
  defaults: dissolveDefaults,
  measure: 'Wet/dry energy ratio of the output, (wet/dry)² for the unit-energy room (dissolveWetDryRatio): it rises with wear, from 0 to about 4 at 80 % wear and about 15 as the last of the sound fades.',
  preroll: (sampleRate, params) => roomShape(sampleRate, params).frames,
  render,
  renderWears
}
