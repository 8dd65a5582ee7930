import { corrupt, UploadError } from './upload-error.js'

const HEADER_LENGTH = 27
const FLAG_BOS = 0x02
const FLAG_EOS = 0x04
const CRC_OFFSET = 22

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 24
    for (let bit = 0; bit < 8; bit++) r = (r & 0x80000000) !== 0 ? (r << 1) ^ 0x04c11db7 : r << 1
    table[i] = r >>> 0
  }
  return table
})()

/** Ogg's CRC-32 (polynomial 0x04c11db7, unreflected) of a page, its CRC field read as zeros. */
export function oggCrc (page: Uint8Array): number {
  let crc = 0
  for (let i = 0; i < page.length; i++) {
    const byte = i >= CRC_OFFSET && i < CRC_OFFSET + 4 ? 0 : page[i] as number
    crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] as number)) >>> 0
  }
  return crc
}

/**
 * Splits an Ogg stream into whole pages as it arrives and checks what the
 * decoders let pass silently: the capture pattern, each page's CRC, the page
 * sequence (no page lost), one logical stream, and an end-of-stream page (the
 * file is complete). Bytes after the end-of-stream page that are not a page
 * (an ID3v1 tag) are ignored; another stream there is refused.
 */
export class OggPages {
  private carry: Buffer = Buffer.alloc(0)
  private serial: number | undefined
  private sequence = -1
  private offset = 0
  private ended = false
  /** Bytes after the last page: a tag some taggers append, ignored. */
  private trailer = false

  /** The whole pages completed by `chunk`. */
  push (chunk: Uint8Array): Buffer[] {
    if (this.trailer) return []
    const data = this.carry.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.carry, chunk])
    const pages: Buffer[] = []
    let at = 0
    for (;;) {
      const length = this.pageLength(data, at)
      if (length === undefined) break
      const page = data.subarray(at, at + length)
      this.checkPage(page)
      pages.push(page)
      at += length
      this.offset += length
    }
    this.carry = this.trailer ? Buffer.alloc(0) : Buffer.from(data.subarray(at))
    return pages
  }

  /** Call at the end of the input. */
  end (): void {
    if (this.carry.length > 0) throw corrupt(`the Ogg file is truncated: it ends inside a page (at byte ${this.offset})`)
    if (!this.ended) throw corrupt('the Ogg file is truncated: the stream has no last (end-of-stream) page')
  }

  private pageLength (data: Buffer, at: number): number | undefined {
    if (data.length - at < 4) return undefined
    if (data.toString('latin1', at, at + 4) !== 'OggS') {
      if (this.ended) {
        this.trailer = true
        return undefined
      }
      throw corrupt(`the Ogg stream is corrupt: no page starts at byte ${this.offset}`)
    }
    if (data.length - at < HEADER_LENGTH) return undefined
    const segments = data[at + 26] as number
    if (data.length - at < HEADER_LENGTH + segments) return undefined
    let length = HEADER_LENGTH + segments
    for (let i = 0; i < segments; i++) length += data[at + HEADER_LENGTH + i] as number
    return data.length - at < length ? undefined : length
  }

  private checkPage (page: Buffer): void {
    const flags = page[5] as number
    const serial = page.readUInt32LE(14)
    const sequence = page.readUInt32LE(18)
    if (page[4] !== 0) throw corrupt(`the Ogg page at byte ${this.offset} has unknown version ${page[4]}`)
    if (oggCrc(page) !== page.readUInt32LE(CRC_OFFSET)) {
      throw corrupt(`the Ogg stream is corrupt: the page at byte ${this.offset} fails its CRC check`)
    }
    if (this.serial === undefined) {
      if ((flags & FLAG_BOS) === 0) throw corrupt('the Ogg stream does not start with a beginning-of-stream page')
      this.serial = serial
    } else if (serial !== this.serial || this.ended) {
      throw new UploadError('EA_UNSUPPORTED_FORMAT', 'Ogg files holding several streams (chained or multiplexed) are not supported; upload one stream per file')
    }
    if (sequence !== this.sequence + 1) {
      throw corrupt(`the Ogg stream is corrupt: page ${this.sequence + 1} is missing (page ${sequence} follows page ${this.sequence})`)
    }
    this.sequence = sequence
    if ((flags & FLAG_EOS) !== 0) this.ended = true
  }
}
