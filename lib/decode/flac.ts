import { createHash } from 'node:crypto'
import type { ByteSource } from './byte-source.js'
import { containerBits, flacFloatsToPcm } from './pcm-convert.js'
import { corrupt, UploadError } from './upload-error.js'
import type { WavSink } from './wav-sink.js'

interface StreamInfo {
  sampleRate: number
  channels: number
  bitsPerSample: number
  /** 0 when the encoder did not know (a stream). */
  totalFrames: number
  /** All zeros when the encoder did not compute it. */
  md5: Buffer
}

const STREAMINFO_END = 42
/** The decoder hands out 32-bit floats: exact up to 24-bit samples, not beyond. */
const MAX_BITS = 24
const FEED_BYTES = 4096
const ID3V1_LENGTH = 128

export function parseStreamInfo (head: Buffer): StreamInfo {
  const blockType = (head[4] as number) & 0x7f
  const length = head.readUIntBE(5, 3)
  if (blockType !== 0 || length !== 34) throw corrupt('the FLAC stream does not start with its STREAMINFO block')
  const b20 = head[20] as number
  const b21 = head[21] as number
  return {
    sampleRate: ((head[18] as number) << 12) | ((head[19] as number) << 4) | (b20 >> 4),
    channels: ((b20 >> 1) & 0b111) + 1,
    bitsPerSample: (((b20 & 1) << 4) | (b21 >> 4)) + 1,
    totalFrames: (b21 & 0xf) * 2 ** 32 + head.readUInt32BE(22),
    md5: head.subarray(26, 42)
  }
}

interface FlacDecoded {
  channelData: Float32Array[]
  samplesDecoded: number
  sampleRate: number
  bitDepth: number
  errors: Array<{ message: string, inputBytes: number }>
}

/**
 * FLAC, sample for sample: the stored WAV has the source's rate, channels and
 * bit depth (8-bit becomes unsigned 8-bit WAV; 12- or 20-bit samples sit
 * left-justified in 16 or 24 bits). The frame count and the MD5 signature in
 * STREAMINFO are checked, so truncation and corruption are refused.
 */
export async function decodeFlac (source: ByteSource, sink: WavSink): Promise<void> {
  const head = await source.read(STREAMINFO_END)
  if (head.length < STREAMINFO_END) throw corrupt('the FLAC file is truncated: it ends inside its STREAMINFO header')
  const info = parseStreamInfo(head)
  if (info.bitsPerSample > MAX_BITS) {
    throw new UploadError('EA_UNSUPPORTED_FORMAT', `${info.bitsPerSample}-bit FLAC is not supported; the service takes FLAC of up to ${MAX_BITS} bits`)
  }
  const bits = containerBits(info.bitsPerSample)
  sink.start({ encoding: 'int', bitsPerSample: bits, channels: info.channels, sampleRate: info.sampleRate, blockAlign: info.channels * bits / 8 })

  const { FLACDecoder } = await import('@wasm-audio-decoders/flac')
  const decoder = new FLACDecoder()
  await decoder.ready
  const md5 = createHash('md5')
  let frames = 0
  const take = (decoded: FlacDecoded): void => {
    const error = decoded.errors[0]
    if (error !== undefined) throw corrupt(`the FLAC stream is corrupt: the decoder reported ${error.message.trim()} within its first ${error.inputBytes} bytes`)
    if (decoded.samplesDecoded === 0) return
    if (decoded.sampleRate !== info.sampleRate || decoded.channelData.length !== info.channels || decoded.bitDepth !== info.bitsPerSample) {
      throw corrupt(`a FLAC frame (${decoded.sampleRate} Hz, ${decoded.channelData.length} channel(s), ${decoded.bitDepth}-bit) contradicts STREAMINFO (${info.sampleRate} Hz, ${info.channels} channel(s), ${info.bitsPerSample}-bit)`)
    }
    const { pcm, signature } = flacFloatsToPcm(decoded.channelData, decoded.samplesDecoded, info.bitsPerSample)
    sink.write(pcm)
    md5.update(signature)
    frames += decoded.samplesDecoded
  }
  try {
    const feed = async (bytes: Uint8Array): Promise<void> => {
      // In small slices: what one call decodes (all the frames it completes)
      // stays small even where a few bytes make a whole frame (silence).
      for (let at = 0; at < bytes.length; at += FEED_BYTES) take(await decoder.decode(bytes.subarray(at, at + FEED_BYTES)))
    }
    await feed(head)
    // The last bytes are held back: an ID3v1 tag some taggers append would
    // spoil the last frame (its checksum is taken up to the end of the input).
    let tail = Buffer.alloc(0)
    for await (const chunk of source.chunks()) {
      const bytes = Buffer.concat([tail, chunk])
      await feed(bytes.subarray(0, Math.max(0, bytes.length - ID3V1_LENGTH)))
      tail = Buffer.from(bytes.subarray(Math.max(0, bytes.length - ID3V1_LENGTH)))
    }
    if (!(tail.length === ID3V1_LENGTH && tail.toString('latin1', 0, 3) === 'TAG')) await feed(tail)
    take(await decoder.flush())
  } finally {
    decoder.free()
  }
  if (frames === 0 && info.totalFrames !== 0) throw corrupt('the FLAC stream is corrupt: not one frame after its header could be decoded')
  if (info.totalFrames !== 0 && frames !== info.totalFrames) {
    throw corrupt(frames < info.totalFrames
      ? `the FLAC file is truncated (or its end damaged): ${frames} of the ${info.totalFrames} frames its STREAMINFO announces could be decoded`
      : `the FLAC file holds ${frames} frames; its STREAMINFO announces ${info.totalFrames}`)
  }
  if (info.md5.some(b => b !== 0) && !md5.digest().equals(info.md5)) {
    throw corrupt('the decoded FLAC audio does not match the MD5 signature in its STREAMINFO: the file is corrupt')
  }
}
