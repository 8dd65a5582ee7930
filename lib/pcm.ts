import type { WavFormat } from './wav-format.js'

type SampleKind = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64'

function sampleKind (format: WavFormat): SampleKind {
  const { encoding, bitsPerSample } = format
  if (encoding === 'int') {
    if (bitsPerSample === 8) return 'u8'
    if (bitsPerSample === 16) return 's16'
    if (bitsPerSample === 24) return 's24'
    if (bitsPerSample === 32) return 's32'
  } else if (bitsPerSample === 32) {
    return 'f32'
  } else if (bitsPerSample === 64) {
    return 'f64'
  }
  throw new RangeError(`no sample codec for ${bitsPerSample}-bit ${encoding}`)
}

function clamp (value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value
}

/** Integer samples to [-1, 1): the scale is 2^(bits-1), so the most negative code maps to -1 exactly. */
export function readSample (buf: Buffer, offset: number, format: WavFormat): number {
  switch (sampleKind(format)) {
    case 'u8': return (buf.readUInt8(offset) - 128) / 128
    case 's16': return buf.readInt16LE(offset) / 32768
    case 's24': return buf.readIntLE(offset, 3) / 8388608
    case 's32': return buf.readInt32LE(offset) / 2147483648
    case 'f32': return buf.readFloatLE(offset)
    case 'f64': return buf.readDoubleLE(offset)
  }
}

/** The inverse of readSample; integers are rounded and clamped, NaN becomes silence. */
export function writeSample (buf: Buffer, offset: number, format: WavFormat, value: number): void {
  const v = Number.isNaN(value) ? 0 : value
  switch (sampleKind(format)) {
    case 'u8': buf.writeUInt8(clamp(Math.round(v * 128) + 128, 0, 255), offset); break
    case 's16': buf.writeInt16LE(clamp(Math.round(v * 32768), -32768, 32767), offset); break
    case 's24': buf.writeIntLE(clamp(Math.round(v * 8388608), -8388608, 8388607), offset, 3); break
    case 's32': buf.writeInt32LE(clamp(Math.round(v * 2147483648), -2147483648, 2147483647), offset); break
    case 'f32': buf.writeFloatLE(v, offset); break
    case 'f64': buf.writeDoubleLE(v, offset); break
  }
}

/** The byte every sample of a silent frame is made of: unsigned 8-bit centres on 0x80. */
function silenceByte (format: WavFormat): number {
  return sampleKind(format) === 'u8' ? 0x80 : 0
}

function wholeFrames (frames: Buffer, format: WavFormat): number {
  if (frames.length % format.blockAlign !== 0) {
    throw new RangeError(`${frames.length} bytes is not a whole number of ${format.blockAlign}-byte frames`)
  }
  return frames.length / format.blockAlign
}

/**
 * Scales the samples in [start, end) by gain, in place. Integers go through
 * the bytes by hand and floats through a DataView: both measure several times
 * faster than Buffer's readInt16LE & co. on this hot path.
 */
type GainKernel = (bytes: Buffer, view: DataView, start: number, end: number, gain: number) => void

// Uint8Array stores keep the low 8 bits, so `bytes[p] = v >> 8` needs no mask.
const GAIN_KERNELS: Readonly<Record<SampleKind, GainKernel>> = {
  u8 (bytes, _view, start, end, gain) {
    for (let p = start; p < end; p++) {
      bytes[p] = clamp(Math.round((bytes[p]! - 128) * gain) + 128, 0, 255)
    }
  },
  s16 (bytes, _view, start, end, gain) {
    for (let p = start; p < end; p += 2) {
      const sample = (bytes[p]! | (bytes[p + 1]! << 8)) << 16 >> 16
      const v = clamp(Math.round(sample * gain), -32768, 32767)
      bytes[p] = v
      bytes[p + 1] = v >> 8
    }
  },
  s24 (bytes, _view, start, end, gain) {
    for (let p = start; p < end; p += 3) {
      const sample = (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16)) << 8 >> 8
      const v = clamp(Math.round(sample * gain), -8388608, 8388607)
      bytes[p] = v
      bytes[p + 1] = v >> 8
      bytes[p + 2] = v >> 16
    }
  },
  s32 (bytes, _view, start, end, gain) {
    for (let p = start; p < end; p += 4) {
      const sample = bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)
      const v = clamp(Math.round(sample * gain), -2147483648, 2147483647)
      bytes[p] = v
      bytes[p + 1] = v >> 8
      bytes[p + 2] = v >> 16
      bytes[p + 3] = v >> 24
    }
  },
  f32 (_bytes, view, start, end, gain) {
    for (let p = start; p < end; p += 4) view.setFloat32(p, view.getFloat32(p, true) * gain, true)
  },
  f64 (_bytes, view, start, end, gain) {
    for (let p = start; p < end; p += 8) view.setFloat64(p, view.getFloat64(p, true) * gain, true)
  }
}

/**
 * Multiply every sample of frame i by gains[i], in place. Gain 1 leaves the
 * frame's bytes untouched and gain 0 writes exact digital silence (+0.0 for
 * floats), so a fully worn or pristine span never picks up rounding noise.
 */
export function applyGains (frames: Buffer, format: WavFormat, gains: Float32Array): void {
  const count = wholeFrames(frames, format)
  if (gains.length !== count) throw new RangeError(`${gains.length} gains for ${count} frames`)
  // Checked up front so a bad gain cannot leave the frames half rendered.
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(gains[i])) throw new RangeError(`gain ${gains[i]} at frame ${i} is not a finite number`)
  }
  const kernel = GAIN_KERNELS[sampleKind(format)]
  const view = new DataView(frames.buffer, frames.byteOffset, frames.length)
  const silence = silenceByte(format)
  const { blockAlign } = format
  let i = 0
  while (i < count) {
    const gain = gains[i]!
    if (gain === 1) {
      i++
    } else if (gain === 0) {
      // Fill a whole run at once: one fill per frame costs more than the samples it writes.
      let end = i + 1
      while (end < count && gains[end] === 0) end++
      frames.fill(silence, i * blockAlign, end * blockAlign)
      i = end
    } else {
      kernel(frames, view, i * blockAlign, (i + 1) * blockAlign, gain)
      i++
    }
  }
}

/** Frames whose every channel is exact digital silence; a float -0.0 counts, it plays as 0. */
export function silentFrameCount (frames: Buffer, format: WavFormat): number {
  const isSilent = frameSilenceTest(frames, format)
  let silent = 0
  for (let start = 0; start < frames.length; start += format.blockAlign) if (isSilent(start)) silent++
  return silent
}

/** Frames silent in `current` that were not silent in `original` (same format and length). */
export function newlySilentFrameCount (current: Buffer, original: Buffer, format: WavFormat): number {
  if (current.length !== original.length) throw new RangeError('current and original must have the same length')
  const nowSilent = frameSilenceTest(current, format)
  const wasSilent = frameSilenceTest(original, format)
  let count = 0
  for (let start = 0; start < current.length; start += format.blockAlign) {
    if (nowSilent(start) && !wasSilent(start)) count++
  }
  return count
}

/** A test of whether the frame starting at a byte offset is digital silence in every channel. */
function frameSilenceTest (frames: Buffer, format: WavFormat): (start: number) => boolean {
  wholeFrames(frames, format)
  const kind = sampleKind(format)
  const { blockAlign } = format
  const silence = silenceByte(format)
  const isSilentAt = kind === 'f32'
    ? (p: number) => frames.readFloatLE(p) === 0
    : kind === 'f64'
      ? (p: number) => frames.readDoubleLE(p) === 0
      : (p: number) => frames[p] === silence
  const step = kind === 'f32' ? 4 : kind === 'f64' ? 8 : 1
  return (start: number) => {
    let p = start
    while (p < start + blockAlign && isSilentAt(p)) p += step
    return p === start + blockAlign
  }
}
