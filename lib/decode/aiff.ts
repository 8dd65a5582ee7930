import type { WavFormat } from '../wav-format.js'
import type { ByteSource } from './byte-source.js'
import { containerBits } from './pcm-convert.js'
import { corrupt, UploadError } from './upload-error.js'
import type { WavSink } from './wav-sink.js'

type ByteOrder = 'big' | 'little'

interface SoundFormat {
  wav: WavFormat
  order: ByteOrder
  frames: number
}

/** AIFF-C compression types that are plain PCM, and how to read them. */
const PCM_TYPES: Readonly<Record<string, { order: ByteOrder, float?: 32 | 64 }>> = {
  NONE: { order: 'big' },
  twos: { order: 'big' },
  sowt: { order: 'little' },
  fl32: { order: 'big', float: 32 },
  FL32: { order: 'big', float: 32 },
  fl64: { order: 'big', float: 64 },
  FL64: { order: 'big', float: 64 }
}

const COPY_BYTES = 1 << 16
const COMM_READ_BYTES = 256

function truncated (where: string): UploadError {
  return corrupt(`the AIFF file is truncated: it ends inside ${where}`)
}

/** An 80-bit IEEE 754 extended float, as AIFF stores its sample rate. */
export function readExtended (bytes: Buffer, offset: number): number {
  const exponent = bytes.readUInt16BE(offset) & 0x7fff
  const sign = (bytes[offset] as number) & 0x80 ? -1 : 1
  const high = bytes.readUInt32BE(offset + 2)
  const low = bytes.readUInt32BE(offset + 6)
  if (exponent === 0 && high === 0 && low === 0) return 0
  return sign * (high * 2 ** (exponent - 16383 - 31) + low * 2 ** (exponent - 16383 - 63))
}

function parseComm (body: Buffer, aifc: boolean): SoundFormat {
  if (body.length < (aifc ? 22 : 18)) throw corrupt(`the COMM chunk is ${body.length} bytes, too short to describe the sound`)
  const channels = body.readUInt16BE(0)
  const frames = body.readUInt32BE(2)
  const sampleSize = body.readUInt16BE(6)
  const sampleRate = Math.round(readExtended(body, 8))
  const type = aifc ? body.toString('latin1', 18, 22) : 'NONE'
  const pcm = PCM_TYPES[type]
  if (pcm === undefined) {
    const name = body.length > 22 ? body.toString('latin1', 23, 23 + Math.min(body[22] as number, body.length - 23)) : ''
    throw new UploadError('EA_UNSUPPORTED_FORMAT',
      `compressed AIFF-C ('${type.trim()}'${name === '' ? '' : ` ${name}`}) is not supported; use uncompressed AIFF, or FLAC`)
  }
  const bitsPerSample = pcm.float ?? containerBits(sampleSize)
  if (pcm.float === undefined && (sampleSize < 1 || sampleSize > 32)) {
    throw corrupt(`the COMM chunk declares ${sampleSize}-bit samples`)
  }
  if (channels === 0) throw corrupt('the COMM chunk declares 0 channels')
  const wav: WavFormat = {
    encoding: pcm.float === undefined ? 'int' : 'float',
    bitsPerSample,
    channels,
    sampleRate,
    blockAlign: channels * bitsPerSample / 8
  }
  return { wav, order: pcm.order, frames }
}

/** In place: AIFF frames to WAV frames (little-endian; 8-bit unsigned). */
function toWavOrder (bytes: Buffer, { wav, order }: SoundFormat): void {
  const width = wav.bitsPerSample / 8
  if (width === 1) {
    for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] as number) ^ 0x80
  } else if (order === 'big') {
    if (width === 2) bytes.swap16()
    else if (width === 4) bytes.swap32()
    else if (width === 8) bytes.swap64()
    else {
      for (let i = 0; i < bytes.length; i += 3) {
        const first = bytes[i] as number
        bytes[i] = bytes[i + 2] as number
        bytes[i + 2] = first
      }
    }
  }
}

async function copySound (source: ByteSource, sink: WavSink, sound: SoundFormat, chunkSize: number): Promise<void> {
  const header = await source.read(8)
  if (header.length < 8) throw truncated('the SSND chunk header')
  const offset = header.readUInt32BE(0)
  if (await source.skip(offset) < offset) throw truncated('the SSND chunk')
  const { blockAlign } = sound.wav
  const wanted = sound.frames * blockAlign
  if (chunkSize - 8 - offset < wanted) {
    throw corrupt(`the SSND chunk holds ${Math.max(0, chunkSize - 8 - offset)} bytes of sound; the COMM chunk announces ${sound.frames} frames (${wanted} bytes)`)
  }
  sink.start(sound.wav)
  const step = Math.max(1, Math.floor(COPY_BYTES / blockAlign)) * blockAlign
  for (let copied = 0; copied < wanted;) {
    const block = await source.read(Math.min(step, wanted - copied))
    if (block.length % blockAlign !== 0 || block.length === 0) {
      throw corrupt(`the AIFF file is truncated: ${Math.floor((copied + block.length) / blockAlign)} of the ${sound.frames} frames its COMM chunk announces are there`)
    }
    toWavOrder(block, sound)
    sink.write(block)
    copied += block.length
  }
}

/**
 * AIFF and AIFF-C with uncompressed samples, streamed: the COMM chunk must
 * come before the sound (it does in every file seen in practice). Anything
 * after the SSND chunk is ignored.
 */
export async function decodeAiff (source: ByteSource, sink: WavSink): Promise<void> {
  const form = await source.read(12)
  if (form.length < 12) throw truncated('the FORM header')
  const aifc = form.toString('latin1', 8, 12) === 'AIFC'
  let sound: SoundFormat | undefined
  for (;;) {
    const header = await source.read(8)
    if (header.length === 0) break
    if (header.length < 8) throw truncated('a chunk header')
    const id = header.toString('latin1', 0, 4)
    const size = header.readUInt32BE(4)
    if (id === 'SSND') {
      if (sound === undefined) throw corrupt('the sound data (SSND) comes before the COMM chunk that describes it')
      await copySound(source, sink, sound, size)
      return
    }
    if (id === 'COMM' && sound === undefined) {
      // The fields fit in a few dozen bytes; a huge declared size is not buffered.
      const body = await source.read(Math.min(size, COMM_READ_BYTES))
      if (body.length < Math.min(size, COMM_READ_BYTES)) throw truncated('the COMM chunk')
      const rest = size - body.length + (size % 2)
      if (await source.skip(rest) < rest - (size % 2)) throw truncated('the COMM chunk')
      sound = parseComm(body, aifc)
      // A file of 0 frames may leave out SSND altogether.
      if (sound.frames === 0) return
    } else if (await source.skip(size + (size % 2)) < size) {
      throw truncated(`the '${id}' chunk`)
    }
  }
  throw corrupt(sound === undefined ? 'no COMM chunk: the file does not say how its sound is encoded' : 'no SSND chunk: the file holds no sound')
}
