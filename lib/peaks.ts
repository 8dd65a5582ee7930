/**
 * Waveform peaks in the BBC audiowaveform data format (version 2), the one
 * peaks.js and waveform-data.js read: for every pixel, the min and max
 * sample of the `samples_per_pixel` frames it covers, per output channel.
 *
 * Samples are taken to 16 bits the way audiowaveform does after libsndfile:
 * integer PCM keeps its top 16 bits (8-bit is widened), floats are scaled by
 * 32768, floored and clamped. Mixing to one channel is audiowaveform's too:
 * the 16-bit samples of a frame are summed and divided by the channel count,
 * rounding towards zero; 8-bit output divides the 16-bit values by 256, also
 * towards zero. Every step is monotone, so min/max commute with them.
 *
 * Frames arrive in chunks of any size (a read stream's), so a track is never
 * held in memory whole: only the output, 2 values per pixel and channel.
 */
import { createReadStream } from 'node:fs'
import type { WavFormat, WavLayout } from './wav-format.js'

export type ChannelMode = 'mixed' | 'split'
export type PeakBits = 8 | 16

export interface PeaksOptions {
  /** Frames per pixel, at least 2 (audiowaveform's minimum zoom). */
  samplesPerPixel: number
  /** One mixed-down channel, or one per input channel. */
  channels: ChannelMode
}

/** Min/max pairs at 16 bits, in audiowaveform's order: pixel by pixel, channel by channel within a pixel. */
export interface Peaks {
  sampleRate: number
  samplesPerPixel: number
  channels: number
  length: number
  data: Int16Array
}

/** The audiowaveform JSON object, keys in the order audiowaveform writes them. */
export interface AudioWaveform {
  version: 2
  channels: number
  sample_rate: number
  samples_per_pixel: number
  bits: PeakBits
  length: number
  data: number[]
}

export const MIN_SAMPLES_PER_PIXEL = 2
const INT16_MIN = -32768
const INT16_MAX = 32767
// A multiple of every frame size up to 8 bytes × 6 channels would do; whole frames per read keep the carry path cold.
const READ_CHUNK = 256 * 1024

type Decoder = (bytes: Buffer, view: DataView, p: number) => number

function floatTo16 (x: number): number {
  if (Number.isNaN(x)) return 0
  const v = Math.floor(x * 32768)
  return v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v
}

/** Little-endian sample at byte p as a 16-bit integer: the top two bytes of integer PCM. */
function decoderFor (format: WavFormat): Decoder {
  const { encoding, bitsPerSample } = format
  if (encoding === 'float') {
    if (bitsPerSample === 32) return (_b, view, p) => floatTo16(view.getFloat32(p, true))
    if (bitsPerSample === 64) return (_b, view, p) => floatTo16(view.getFloat64(p, true))
  } else {
    if (bitsPerSample === 8) return (b, _v, p) => (b[p]! - 128) * 256
    const top = bitsPerSample / 8 - 2
    if (top >= 0 && top <= 2 && Number.isInteger(top)) return (b, _v, p) => (b[p + top]! | (b[p + top + 1]! << 8)) << 16 >> 16
  }
  throw new RangeError(`no peak decoder for ${bitsPerSample}-bit ${encoding}`)
}

/** Pixels audiowaveform produces for `frames` frames: the last one may cover fewer. */
export function peaksLength (frames: number, samplesPerPixel: number): number {
  return Math.ceil(frames / samplesPerPixel)
}

/**
 * audiowaveform's resolution options: `samples_per_pixel` as given, or
 * `pixels_per_second` as sample_rate / pixels_per_second, rounded down.
 */
export function samplesPerPixelFor (sampleRate: number, zoom: { samplesPerPixel?: number | undefined, pixelsPerSecond?: number | undefined }): number {
  if (zoom.samplesPerPixel !== undefined) return zoom.samplesPerPixel
  if (zoom.pixelsPerSecond !== undefined) return Math.floor(sampleRate / zoom.pixelsPerSecond)
  return DEFAULT_SAMPLES_PER_PIXEL
}

/** audiowaveform's default zoom. */
export const DEFAULT_SAMPLES_PER_PIXEL = 256

/** Min/max per pixel over frames pushed in chunks of any size, in order. */
export class PeaksAccumulator {
  readonly #format: WavFormat
  readonly #frames: number
  readonly #spp: number
  readonly #mixed: boolean
  readonly #outChannels: number
  readonly #decode: Decoder
  readonly #data: Int16Array
  readonly #min: Int32Array
  readonly #max: Int32Array
  #carry: Buffer = Buffer.alloc(0)
  #seen = 0
  #inPixel = 0
  #out = 0

  constructor (format: WavFormat, frames: number, options: PeaksOptions) {
    if (!Number.isSafeInteger(options.samplesPerPixel) || options.samplesPerPixel < MIN_SAMPLES_PER_PIXEL) {
      throw new RangeError(`samples per pixel must be an integer of at least ${MIN_SAMPLES_PER_PIXEL}, got ${options.samplesPerPixel}`)
    }
    this.#format = format
    this.#frames = frames
    this.#spp = options.samplesPerPixel
    this.#mixed = options.channels === 'mixed'
    this.#outChannels = this.#mixed ? 1 : format.channels
    this.#decode = decoderFor(format)
    this.#data = new Int16Array(peaksLength(frames, this.#spp) * 2 * this.#outChannels)
    this.#min = new Int32Array(this.#outChannels)
    this.#max = new Int32Array(this.#outChannels)
    this.#reset()
  }

  /** Bytes of frames, continuing where the last chunk ended; a frame may straddle two chunks. */
  push (chunk: Buffer): void {
    const { blockAlign } = this.#format
    let bytes = chunk
    if (this.#carry.length > 0) {
      bytes = Buffer.concat([this.#carry, chunk])
      this.#carry = Buffer.alloc(0)
    }
    const whole = bytes.length - bytes.length % blockAlign
    if (this.#seen + whole / blockAlign > this.#frames) {
      throw new RangeError(`more than the ${this.#frames} frames announced`)
    }
    this.#consume(bytes, whole)
    if (whole < bytes.length) this.#carry = Buffer.from(bytes.subarray(whole))
  }

  /** The peaks; throws if fewer frames came than announced (the file shrank underneath us). */
  finish (): Peaks {
    if (this.#seen !== this.#frames || this.#carry.length > 0) {
      throw new RangeError(`expected ${this.#frames} frames, got ${this.#seen} and ${this.#carry.length} stray bytes`)
    }
    if (this.#inPixel > 0) this.#emit()
    return {
      sampleRate: this.#format.sampleRate,
      samplesPerPixel: this.#spp,
      channels: this.#outChannels,
      length: this.#data.length / 2 / this.#outChannels,
      data: this.#data
    }
  }

  #consume (bytes: Buffer, end: number): void {
    const { blockAlign, channels } = this.#format
    const step = this.#format.bitsPerSample / 8
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
    const decode = this.#decode
    const min = this.#min
    const max = this.#max
    for (let p = 0; p < end; p += blockAlign) {
      if (this.#mixed) {
        let sum = 0
        for (let c = 0, q = p; c < channels; c++, q += step) sum += decode(bytes, view, q)
        const v = Math.trunc(sum / channels)
        if (v < min[0]!) min[0] = v
        if (v > max[0]!) max[0] = v
      } else {
        for (let c = 0, q = p; c < channels; c++, q += step) {
          const v = decode(bytes, view, q)
          if (v < min[c]!) min[c] = v
          if (v > max[c]!) max[c] = v
        }
      }
      this.#seen++
      if (++this.#inPixel === this.#spp) this.#emit()
    }
  }

  #emit (): void {
    for (let c = 0; c < this.#outChannels; c++) {
      this.#data[this.#out++] = this.#min[c]!
      this.#data[this.#out++] = this.#max[c]!
    }
    this.#reset()
  }

  #reset (): void {
    this.#min.fill(INT16_MAX)
    this.#max.fill(INT16_MIN)
    this.#inPixel = 0
  }
}

/** Pixels [first, last], both included. */
export interface PixelRange { first: number, last: number }

/**
 * The peaks of a WAV file's frames, read in chunks from disk: all of them, or
 * only the pixels of `range` (their frames start on a pixel boundary, so the
 * result is exactly those pixels of the whole).
 */
export async function peaksOfFile (path: string, layout: Pick<WavLayout, 'format' | 'dataOffset' | 'frames'>, options: PeaksOptions, range?: PixelRange): Promise<Peaks> {
  const firstFrame = range === undefined ? 0 : range.first * options.samplesPerPixel
  const endFrame = range === undefined ? layout.frames : Math.min(layout.frames, (range.last + 1) * options.samplesPerPixel)
  const frames = Math.max(0, endFrame - firstFrame)
  const peaks = new PeaksAccumulator(layout.format, frames, options)
  const { blockAlign } = layout.format
  if (frames > 0) {
    const start = layout.dataOffset + firstFrame * blockAlign
    const stream = createReadStream(path, {
      start,
      end: start + frames * blockAlign - 1,
      highWaterMark: Math.max(1, Math.floor(READ_CHUNK / blockAlign)) * blockAlign
    })
    for await (const chunk of stream) peaks.push(chunk as Buffer)
  }
  return peaks.finish()
}

/**
 * The pixels that overlap the given segments (`segmentFrames` frames each,
 * the last one cut at `frames`), merged into ascending, disjoint ranges.
 */
export function pixelsOfSegments (segments: readonly number[], segmentFrames: number, frames: number, samplesPerPixel: number): PixelRange[] {
  const ranges: PixelRange[] = []
  for (const segment of [...segments].sort((a, b) => a - b)) {
    const firstFrame = segment * segmentFrames
    const endFrame = Math.min(frames, firstFrame + segmentFrames)
    if (endFrame <= firstFrame) continue
    const range = { first: Math.floor(firstFrame / samplesPerPixel), last: Math.floor((endFrame - 1) / samplesPerPixel) }
    const previous = ranges.at(-1)
    if (previous !== undefined && range.first <= previous.last + 1) previous.last = Math.max(previous.last, range.last)
    else ranges.push(range)
  }
  return ranges
}

/** `base` with the pixels of each part (computed for its range) written over it; `base` itself is left as it was. */
export function patchPeaks (base: Peaks, parts: ReadonlyArray<{ range: PixelRange, peaks: Peaks }>): Peaks {
  const data = base.data.slice()
  for (const { range, peaks } of parts) data.set(peaks.data, range.first * 2 * base.channels)
  return { ...base, data }
}

/** 16-bit values to audiowaveform's 8-bit ones: divided by 256, towards zero as C++ does. */
function eightBit (data: Int16Array): Int8Array {
  const out = new Int8Array(data.length)
  for (let i = 0; i < data.length; i++) out[i] = Math.trunc(data[i]! / 256)
  return out
}

/** The audiowaveform JSON text; built as a string because `data` can hold millions of numbers. */
export function audiowaveformJson (peaks: Peaks, bits: PeakBits): string {
  const values = bits === 8 ? eightBit(peaks.data) : peaks.data
  return `{"version":2,"channels":${peaks.channels},"sample_rate":${peaks.sampleRate},` +
    `"samples_per_pixel":${peaks.samplesPerPixel},"bits":${bits},"length":${peaks.length},"data":[${values.join(',')}]}`
}
