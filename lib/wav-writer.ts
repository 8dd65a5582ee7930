import { open } from 'node:fs/promises'
import type { WavFormat } from './wav-format.js'

const WAVE_FORMAT_PCM = 0x0001
const WAVE_FORMAT_IEEE_FLOAT = 0x0003

/** A chunk to place before or after `data` (e.g. LIST, bext, fact). */
export interface ExtraChunk {
  id: string
  body: Buffer
}

export interface WavHeaderOptions {
  chunksBeforeData?: ExtraChunk[]
  /** Chunks written after the data; counted in the RIFF size. */
  chunksAfterData?: ExtraChunk[]
  /** A `fmt ` body other than the canonical 16 bytes (18 or 40, WAVE_FORMAT_EXTENSIBLE). */
  fmtBody?: Buffer
  /** The size the `data` header states, when it should differ from the bytes that follow (0xFFFFFFFF from a streaming encoder). */
  declaredDataSize?: number
}

export function encodeChunk (chunk: ExtraChunk): Buffer {
  const pad = chunk.body.length % 2
  const out = Buffer.alloc(8 + chunk.body.length + pad)
  out.write(chunk.id.padEnd(4, ' ').slice(0, 4), 0, 'latin1')
  out.writeUInt32LE(chunk.body.length, 4)
  chunk.body.copy(out, 8)
  return out
}

/** A canonical 16-byte `fmt ` body for plain PCM or IEEE float. */
export function fmtBody (format: WavFormat): Buffer {
  const body = Buffer.alloc(16)
  body.writeUInt16LE(format.encoding === 'float' ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM, 0)
  body.writeUInt16LE(format.channels, 2)
  body.writeUInt32LE(format.sampleRate, 4)
  body.writeUInt32LE(format.sampleRate * format.blockAlign, 8)
  body.writeUInt16LE(format.blockAlign, 12)
  body.writeUInt16LE(format.bitsPerSample, 14)
  return body
}

/**
 * Everything of a WAV file that precedes the frames: RIFF header, `fmt `,
 * any extra chunks, and the `data` chunk header for `dataBytes` of frames.
 */
export function wavHeader (format: WavFormat, dataBytes: number, options: WavHeaderOptions = {}): Buffer {
  const declared = options.declaredDataSize ?? dataBytes
  const before = (options.chunksBeforeData ?? []).map(encodeChunk)
  const afterBytes = (options.chunksAfterData ?? []).map(encodeChunk).reduce((n, c) => n + c.length, 0)
  const fmt = encodeChunk({ id: 'fmt ', body: options.fmtBody ?? fmtBody(format) })
  const dataHeader = Buffer.alloc(8)
  dataHeader.write('data', 0, 'latin1')
  dataHeader.writeUInt32LE(declared, 4)
  const head = Buffer.concat([fmt, ...before, dataHeader])
  const riff = Buffer.alloc(12)
  riff.write('RIFF', 0, 'latin1')
  riff.writeUInt32LE(Math.min(0xffffffff, 4 + head.length + declared + (declared % 2) + afterBytes), 4)
  riff.write('WAVE', 8, 'latin1')
  return Buffer.concat([riff, head])
}

/**
 * Write a WAV file from a generator of frame blocks, without holding the
 * whole file in memory. `dataBytes` must equal the total the generator yields.
 */
export async function writeWavFile (
  path: string,
  format: WavFormat,
  dataBytes: number,
  blocks: Iterable<Buffer> | AsyncIterable<Buffer>,
  options: WavHeaderOptions = {}
): Promise<void> {
  const file = await open(path, 'w')
  try {
    await file.write(wavHeader(format, dataBytes, options))
    let written = 0
    for await (const block of blocks) {
      await file.write(block)
      written += block.length
    }
    if (written !== dataBytes) throw new Error(`writeWavFile: expected ${dataBytes} data bytes, got ${written}`)
    if (dataBytes % 2 === 1) await file.write(Buffer.alloc(1))
    for (const chunk of options.chunksAfterData ?? []) await file.write(encodeChunk(chunk))
    await file.sync()
  } finally {
    await file.close()
  }
}
