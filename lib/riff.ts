import type { FileHandle } from 'node:fs/promises'
import type { WavFormat, WavLayout } from './wav-format.js'

export type WavFormatErrorCode =
  | 'WAV_EMPTY'
  | 'WAV_TRUNCATED'
  | 'WAV_NOT_RIFF'
  | 'WAV_RIFX'
  | 'WAV_NOT_WAVE'
  | 'WAV_NO_FMT'
  | 'WAV_NO_DATA'
  | 'WAV_BAD_FMT'
  | 'WAV_COMPRESSED'
  | 'WAV_BAD_CHANNELS'
  | 'WAV_UNSUPPORTED_BITS'
  | 'WAV_BAD_BLOCK_ALIGN'
  | 'WAV_BAD_RATE'
  | 'WAV_TOO_LONG'

/** A file that is not a WAV this service can play. Messages never name the file. */
export class WavFormatError extends Error {
  readonly code: WavFormatErrorCode

  constructor (code: WavFormatErrorCode, message: string) {
    super(message)
    this.name = 'WavFormatError'
    this.code = code
  }
}

const WAVE_FORMAT_PCM = 0x0001
const WAVE_FORMAT_IEEE_FLOAT = 0x0003
const WAVE_FORMAT_EXTENSIBLE = 0xfffe
// Every KSDATAFORMAT_SUBTYPE_* GUID ends with these 14 bytes; its first two carry the classic tag.
const KSDATAFORMAT_SUFFIX = Buffer.from([
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71
])
const EXTENSIBLE_FMT_SIZE = 40
const RIFF_HEADER_SIZE = 12
const CHUNK_HEADER_SIZE = 8

const KNOWN_CODECS: Readonly<Record<number, string>> = {
  0x0002: 'MS ADPCM',
  0x0006: 'A-law',
  0x0007: 'mu-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MPEG layer 3'
}

const SUPPORTED_BITS = { int: [8, 16, 24, 32], float: [32, 64] }

function hex (tag: number): string {
  return '0x' + tag.toString(16).toUpperCase().padStart(4, '0')
}

function truncated (what: string): WavFormatError {
  return new WavFormatError('WAV_TRUNCATED', `the file is truncated: it ends inside ${what}`)
}

async function readAt (file: FileHandle, position: number, length: number, what: string): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  const { bytesRead } = await file.read(buf, 0, length, position)
  // Only possible if the file shrank after stat(); still a truncation, not a crash.
  if (bytesRead < length) throw truncated(what)
  return buf
}

function checkRiffHeader (head: Buffer): void {
  const magic = head.toString('latin1', 0, 4)
  if (magic === 'RIFX') {
    throw new WavFormatError('WAV_RIFX', 'big-endian WAV (RIFX) is not supported; convert it to little-endian RIFF WAV')
  }
  if (magic === 'RF64') {
    throw new WavFormatError('WAV_NOT_RIFF', '64-bit WAV (RF64) is not supported; convert it to a RIFF WAV under 4 GiB')
  }
  if (magic !== 'RIFF') {
    if (head.length < 4 && 'RIFF'.startsWith(magic)) throw truncated('the RIFF header')
    throw new WavFormatError('WAV_NOT_RIFF', 'not a WAV file: it does not start with a RIFF header')
  }
  if (head.length < RIFF_HEADER_SIZE) throw truncated('the RIFF header')
  const form = head.toString('latin1', 8, 12)
  if (form !== 'WAVE') {
    throw new WavFormatError('WAV_NOT_WAVE', `a RIFF file of type '${form.trim()}', not WAVE audio`)
  }
}

function sampleEncoding (tag: number): WavFormat['encoding'] {
  if (tag === WAVE_FORMAT_PCM) return 'int'
  if (tag === WAVE_FORMAT_IEEE_FLOAT) return 'float'
  const name = KNOWN_CODECS[tag]
  const what = name === undefined ? `format ${hex(tag)}` : `${name}, format ${hex(tag)}`
  throw new WavFormatError('WAV_COMPRESSED', `compressed WAV (${what}) is not supported; convert it to PCM`)
}

/** The classic tag behind WAVE_FORMAT_EXTENSIBLE's sub-format GUID. */
function extensibleTag (body: Buffer): number {
  if (body.length < EXTENSIBLE_FMT_SIZE) {
    throw new WavFormatError('WAV_BAD_FMT',
      `extensible fmt chunk is ${body.length} bytes; it needs ${EXTENSIBLE_FMT_SIZE}`)
  }
  const guid = body.subarray(24, 40)
  if (!guid.subarray(2).equals(KSDATAFORMAT_SUFFIX)) {
    throw new WavFormatError('WAV_COMPRESSED',
      `extensible WAV with sub-format GUID ${guid.toString('hex')} is not supported; convert it to PCM`)
  }
  return guid.readUInt16LE(0)
}

/** What a header may claim before the file is refused (422), whatever its size on disk. */
export const WAV_LIMITS = {
  minSampleRate: 1000,
  maxSampleRate: 768_000,
  maxChannels: 64,
  /** Segments per track: bounds the metadata file (two counts per segment) and per-track memory. */
  maxSegments: 1_000_000
} as const

function parseFmt (body: Buffer): WavFormat {
  if (body.length < 16) {
    throw new WavFormatError('WAV_BAD_FMT', `fmt chunk is ${body.length} bytes; it needs at least 16`)
  }
  const tag = body.readUInt16LE(0)
  const encoding = sampleEncoding(tag === WAVE_FORMAT_EXTENSIBLE ? extensibleTag(body) : tag)
  const channels = body.readUInt16LE(2)
  const sampleRate = body.readUInt32LE(4)
  const blockAlign = body.readUInt16LE(12)
  const bitsPerSample = body.readUInt16LE(14)
  if (channels === 0) throw new WavFormatError('WAV_BAD_CHANNELS', 'the fmt chunk declares 0 channels')
  if (sampleRate === 0) throw new WavFormatError('WAV_BAD_FMT', 'the fmt chunk declares a sample rate of 0 Hz')
  // A header is a claim, not a fact: absurd rates would make absurd segment counts and metadata.
  if (sampleRate < WAV_LIMITS.minSampleRate || sampleRate > WAV_LIMITS.maxSampleRate) {
    throw new WavFormatError('WAV_BAD_RATE', `the sample rate is ${sampleRate} Hz; the service plays ${WAV_LIMITS.minSampleRate} Hz to ${WAV_LIMITS.maxSampleRate} Hz`)
  }
  if (channels > WAV_LIMITS.maxChannels) {
    throw new WavFormatError('WAV_BAD_CHANNELS', `the file declares ${channels} channels; the service plays at most ${WAV_LIMITS.maxChannels}`)
  }
  if (!SUPPORTED_BITS[encoding].includes(bitsPerSample)) {
    const kind = encoding === 'int' ? 'integer PCM' : 'float'
    throw new WavFormatError('WAV_UNSUPPORTED_BITS',
      `${bitsPerSample}-bit ${kind} is not supported; use ${SUPPORTED_BITS[encoding].join(', ')} bits`)
  }
  const expectedAlign = channels * bitsPerSample / 8
  if (blockAlign !== expectedAlign) {
    throw new WavFormatError('WAV_BAD_BLOCK_ALIGN',
      `block align is ${blockAlign} bytes but ${channels} channel(s) of ${bitsPerSample} bits need ${expectedAlign}`)
  }
  return { encoding, bitsPerSample, channels, sampleRate, blockAlign }
}

/**
 * Find the format and the frames of a WAV file by walking its chunks with
 * small positioned reads; the audio itself is never read.
 */
export async function readWavLayout (file: FileHandle): Promise<WavLayout> {
  const { size: fileSize } = await file.stat()
  if (fileSize === 0) throw new WavFormatError('WAV_EMPTY', 'the file is empty')
  checkRiffHeader(await readAt(file, 0, Math.min(RIFF_HEADER_SIZE, fileSize), 'the RIFF header'))

  let format: WavFormat | undefined
  let data: { offset: number, declaredSize: number } | undefined
  let position = RIFF_HEADER_SIZE
  while (position + CHUNK_HEADER_SIZE <= fileSize && (format === undefined || data === undefined)) {
    const header = await readAt(file, position, CHUNK_HEADER_SIZE, 'a chunk header')
    const id = header.toString('latin1', 0, 4)
    const size = header.readUInt32LE(4)
    const bodyOffset = position + CHUNK_HEADER_SIZE
    const available = fileSize - bodyOffset
    if (id === 'data') {
      data ??= { offset: bodyOffset, declaredSize: size }
      // Streaming encoders leave the size at 0xFFFFFFFF: the audio runs to the end of the file.
      if (size > available) break
    } else if (size > available) {
      throw truncated(`the '${id}' chunk`)
    } else if (id === 'fmt ' && format === undefined) {
      format = parseFmt(await readAt(file, bodyOffset, Math.min(size, EXTENSIBLE_FMT_SIZE), 'the fmt chunk'))
    }
    position = bodyOffset + size + (size % 2)
  }

  if (format === undefined) {
    throw new WavFormatError('WAV_NO_FMT', 'no fmt chunk: the file does not say how its audio is encoded')
  }
  if (data === undefined) throw new WavFormatError('WAV_NO_DATA', 'no data chunk: the file holds no audio')
  const frames = Math.floor(Math.min(data.declaredSize, fileSize - data.offset) / format.blockAlign)
  return { format, dataOffset: data.offset, dataSize: frames * format.blockAlign, frames, fileSize }
}
