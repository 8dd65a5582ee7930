import { endianness } from 'node:os'

// Typed-array views write in the machine's byte order; WAV is little-endian.
if (endianness() !== 'LE') throw new Error('lib/decode writes PCM through typed arrays and needs a little-endian machine')

const INT16_SCALE = 32768

/**
 * Interleave planar float samples (±1.0 full scale) as 16-bit PCM, the way
 * ffmpeg and sox do: scaled by 32768, rounded, clipped.
 */
export function floatToInt16 (channels: readonly Float32Array[], frames: number): Buffer {
  const count = channels.length
  const out = Buffer.allocUnsafe(frames * count * 2)
  const samples = new Int16Array(out.buffer, out.byteOffset, frames * count)
  for (let c = 0; c < count; c++) {
    const plane = channels[c] as Float32Array
    for (let i = 0, o = c; i < frames; i++, o += count) {
      const s = Math.round((plane[i] as number) * INT16_SCALE)
      samples[o] = s > 32767 ? 32767 : s < -32768 ? -32768 : s
    }
  }
  return out
}

/** The WAV container for integer samples of `bits` bits: 8, 16 or 24. */
export function containerBits (bits: number): number {
  return Math.ceil(bits / 8) * 8
}

export interface LosslessPcm {
  /** Interleaved WAV frames: unsigned 8-bit, or signed 16/24-bit little-endian, left-justified. */
  pcm: Buffer
  /** The same samples as FLAC's MD5 signature sees them: signed, little-endian, (bits + 7) / 8 bytes. */
  signature: Buffer
}

/**
 * Interleave FLAC samples of `bits` bits (4 to 24) back to the integers they
 * were. The decoder hands out v / (2^(bits-1) - 1) as 32-bit floats, correctly
 * rounded: for |v| < 2^23 the error is at most 1/4, so rounding restores v.
 */
export function flacFloatsToPcm (channels: readonly Float32Array[], frames: number, bits: number): LosslessPcm {
  const count = channels.length
  const scale = 2 ** (bits - 1) - 1
  const width = containerBits(bits) / 8
  const shift = 2 ** (width * 8 - bits)
  const pcm = Buffer.allocUnsafe(frames * count * width)
  const sameBytes = shift === 1 && width > 1
  const signature = sameBytes ? pcm : Buffer.allocUnsafe(pcm.length)
  for (let c = 0; c < count; c++) {
    const plane = channels[c] as Float32Array
    for (let i = 0, o = c * width; i < frames; i++, o += count * width) {
      const v = Math.round((plane[i] as number) * scale)
      writeInt(pcm, o, width, v * shift)
      if (!sameBytes) writeInt(signature, o, width, v)
    }
  }
  // WAV's 8-bit samples are unsigned; FLAC's (and its signature's) are signed.
  if (width === 1) for (let i = 0; i < pcm.length; i++) pcm[i] = (pcm[i] as number) ^ 0x80
  return { pcm, signature }
}

function writeInt (out: Buffer, offset: number, width: number, value: number): void {
  out[offset] = value & 0xff
  if (width > 1) out[offset + 1] = (value >> 8) & 0xff
  if (width > 2) out[offset + 2] = (value >> 16) & 0xff
}
