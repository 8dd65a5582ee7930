import type { WavFormat } from '../wav-format.js'

/**
 * Interleaved PCM bytes to planar floats in [-1, 1) and back, with the scale
 * and rounding of pcm.ts's readSample/writeSample (so 0 plays round-trips to
 * the same bytes), one loop per sample format rather than a switch per sample.
 */
export function toPlanes (bytes: Buffer, format: WavFormat, alloc: (length: number) => Float64Array = n => new Float64Array(n)): Float64Array[] {
  const { channels, blockAlign } = format
  const frames = Math.floor(bytes.length / blockAlign)
  const planes = Array.from({ length: channels }, () => alloc(frames))
  const width = format.bitsPerSample / 8
  for (let c = 0; c < channels; c++) {
    const plane = planes[c] as Float64Array
    const p0 = c * width
    // The two common formats read straight from the bytes: a call per sample costs more than the sample.
    if (format.encoding === 'int' && width === 2) {
      for (let i = 0, p = p0; i < frames; i++, p += blockAlign) plane[i] = (((bytes[p] as number) | ((bytes[p + 1] as number) << 8)) << 16 >> 16) / 32768
    } else if (format.encoding === 'int' && width === 3) {
      for (let i = 0, p = p0; i < frames; i++, p += blockAlign) plane[i] = (((bytes[p] as number) | ((bytes[p + 1] as number) << 8) | ((bytes[p + 2] as number) << 16)) << 8 >> 8) / 8388608
    } else {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
      const read = reader(format)
      for (let i = 0, p = p0; i < frames; i++, p += blockAlign) plane[i] = read(view, p)
    }
  }
  return planes
}

/** Write frames [from, to) of the planes into `out` at byte `offset`, rounded and clamped as writeSample does. */
export function fromPlanes (planes: Float64Array[], format: WavFormat, out: Buffer, offset: number, from: number, to: number): void {
  const { channels, blockAlign } = format
  const width = format.bitsPerSample / 8
  for (let c = 0; c < channels; c++) {
    const plane = planes[c] as Float64Array
    const p0 = offset + c * width
    if (format.encoding === 'int' && width === 2) {
      for (let i = from, p = p0; i < to; i++, p += blockAlign) {
        const x = plane[i] as number
        const r = Math.round(Number.isNaN(x) ? 0 : x * 32768)
        const v = r < -32768 ? -32768 : r > 32767 ? 32767 : r
        out[p] = v
        out[p + 1] = v >> 8
      }
    } else {
      const view = new DataView(out.buffer, out.byteOffset, out.length)
      const write = writer(format)
      for (let i = from, p = p0; i < to; i++, p += blockAlign) write(view, p, plane[i] as number)
    }
  }
}

type Read = (view: DataView, p: number) => number
type Write = (view: DataView, p: number, v: number) => void

function reader (format: WavFormat): Read {
  const { encoding, bitsPerSample } = format
  if (encoding === 'float') {
    if (bitsPerSample === 32) return (v, p) => v.getFloat32(p, true)
    if (bitsPerSample === 64) return (v, p) => v.getFloat64(p, true)
  } else {
    if (bitsPerSample === 8) return (v, p) => (v.getUint8(p) - 128) / 128
    if (bitsPerSample === 16) return (v, p) => v.getInt16(p, true) / 32768
    if (bitsPerSample === 24) return (v, p) => ((v.getUint8(p) | (v.getUint8(p + 1) << 8) | (v.getUint8(p + 2) << 16)) << 8 >> 8) / 8388608
    if (bitsPerSample === 32) return (v, p) => v.getInt32(p, true) / 2147483648
  }
  throw new RangeError(`no sample codec for ${bitsPerSample}-bit ${encoding}`)
}

function clampRound (x: number, min: number, max: number): number {
  const r = Math.round(Number.isNaN(x) ? 0 : x)
  return r < min ? min : r > max ? max : r
}

function writer (format: WavFormat): Write {
  const { encoding, bitsPerSample } = format
  if (encoding === 'float') {
    // `+ 0` turns -0 into the +0 of digital silence.
    if (bitsPerSample === 32) return (v, p, x) => { v.setFloat32(p, Number.isNaN(x) ? 0 : x + 0, true) }
    if (bitsPerSample === 64) return (v, p, x) => { v.setFloat64(p, Number.isNaN(x) ? 0 : x + 0, true) }
  } else {
    if (bitsPerSample === 8) return (v, p, x) => { v.setUint8(p, clampRound(x * 128, -128, 127) + 128) }
    if (bitsPerSample === 16) return (v, p, x) => { v.setInt16(p, clampRound(x * 32768, -32768, 32767), true) }
    if (bitsPerSample === 24) {
      return (v, p, x) => {
        const s = clampRound(x * 8388608, -8388608, 8388607)
        v.setUint8(p, s & 0xff)
        v.setUint8(p + 1, (s >> 8) & 0xff)
        v.setUint8(p + 2, (s >> 16) & 0xff)
      }
    }
    if (bitsPerSample === 32) return (v, p, x) => { v.setInt32(p, clampRound(x * 2147483648, -2147483648, 2147483647), true) }
  }
  throw new RangeError(`no sample codec for ${bitsPerSample}-bit ${encoding}`)
}

/**
 * Float arrays reused from one render to the next: a play needs a few
 * hundred kilobytes of them, and allocating (and collecting) that much per
 * play cost more than the rendering itself. `reset` at the start of a
 * synchronous render; nothing taken may be kept past it.
 */
export class PlaneArena {
  private readonly slots: Float64Array[] = []
  private used = 0

  reset (): void { this.used = 0 }

  take (length: number): Float64Array {
    let slot = this.slots[this.used]
    if (slot === undefined || slot.length < length) this.slots[this.used] = slot = new Float64Array(Math.max(length, (slot?.length ?? 0) * 2))
    this.used++
    return slot.subarray(0, length)
  }
}
