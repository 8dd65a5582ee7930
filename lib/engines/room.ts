import { fftPlan, fftToBitReversed } from './fft.js'
import { noiseAt } from './engine.js'

/**
 * The room of `dissolve`: a seeded impulse response of exponentially
 * decaying noise that darkens as it decays, and its spectrum for FFT
 * convolution. A convolution with a bounded response is exact and position
 * independent (each output frame depends on exactly `frames` pristine frames
 * before it), which a recursive reverb is not.
 */
export interface RoomShape {
  /** Length of the response in frames: the reverb tail, and the preroll. */
  readonly frames: number
  /** Silence before the first reflection, in frames: keeps the wet part apart from the dry one. */
  readonly predelay: number
  /** Time for the tail to fall 60 dB, in frames. */
  readonly decay: number
  /** 0: as bright at the end as at the start; 1: the end keeps only the lowest frequencies. */
  readonly damping: number
}

/** Noise stream of the room, apart from the ones other engines use. */
const ROOM_STREAM = 0x7e00
/** The last quarter of the response falls to zero along a half cosine: a cut-off tail would be heard as a click in the reverb. */
const TAPER_SHARE = 0.25
const LN_1000 = Math.log(1000)

/** The impulse response, scaled to unit energy so the wet part is about as loud as the dry one. */
export function roomResponse (seed: number, shape: RoomShape): Float64Array {
  const { frames, predelay, decay, damping } = shape
  const h = new Float64Array(frames)
  const tail = frames - predelay
  const taperFrom = frames - Math.floor(tail * TAPER_SHARE)
  let smooth = 0
  let energy = 0
  for (let k = predelay; k < frames; k++) {
    const age = (k - predelay) / Math.max(1, tail)
    // A one-pole low-pass whose cut-off falls with age: air and walls soak up the highs first.
    const c = 1 - damping * 0.9 * age
    smooth += c * (noiseAt(seed, ROOM_STREAM, k) - smooth)
    let level = Math.exp(-LN_1000 * (k - predelay) / decay)
    if (k >= taperFrom) level *= 0.5 + 0.5 * Math.cos(Math.PI * (k - taperFrom) / Math.max(1, frames - 1 - taperFrom))
    const v = smooth * level
    h[k] = v
    energy += v * v
  }
  const scale = energy > 0 ? 1 / Math.sqrt(energy) : 0
  for (let k = 0; k < frames; k++) h[k] = (h[k] as number) * scale
  return h
}

export interface RoomSpectrum {
  readonly re: Float64Array
  readonly im: Float64Array
}

const spectra = new Map<string, RoomSpectrum>()
/** Tracks rendered at once with different seeds or rates; each spectrum of 2^15 bins is ½ MB. */
const KEPT_SPECTRA = 8

/** The response's spectrum at FFT size `size`, in bit-reversed order and already divided by `size` for the unscaled inverse. Made once per room and kept. */
export function roomSpectrum (seed: number, shape: RoomShape, size: number): RoomSpectrum {
  const key = `${seed}:${shape.frames}:${shape.predelay}:${shape.decay}:${shape.damping}:${size}`
  const known = spectra.get(key)
  if (known !== undefined) return known
  const re = new Float64Array(size)
  const im = new Float64Array(size)
  const h = roomResponse(seed, shape)
  for (let k = 0; k < h.length; k++) re[k] = (h[k] as number) / size
  fftToBitReversed(fftPlan(size), re, im)
  const spectrum = { re, im }
  if (spectra.size >= KEPT_SPECTRA) spectra.delete(spectra.keys().next().value as string)
  spectra.set(key, spectrum)
  return spectrum
}
