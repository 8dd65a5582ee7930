import type { ByteSource } from './byte-source.js'
import { OggPages } from './ogg-pages.js'
import { floatToInt16 } from './pcm-convert.js'
import { WAV_LIMITS } from '../riff.js'
import { corrupt, unplayable } from './upload-error.js'
import type { WavSink } from './wav-sink.js'

interface OggDecoded {
  channelData: Float32Array[]
  samplesDecoded: number
  sampleRate: number
  errors: Array<{ message: string, inputBytes: number }>
}

interface OggDecoder {
  ready: Promise<void>
  decode: (data: Uint8Array) => OggDecoded | Promise<OggDecoded>
  flush: () => Promise<OggDecoded>
  free: () => void
}

async function createDecoder (codec: 'vorbis' | 'opus'): Promise<OggDecoder> {
  if (codec === 'vorbis') {
    const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis')
    return new OggVorbisDecoder()
  }
  const { OggOpusDecoder } = await import('ogg-opus-decoder')
  return new OggOpusDecoder()
}

/** Refuse a stream of more channels than the service plays before decoding any of it. */
function checkChannels (codec: 'vorbis' | 'opus', firstPage: Buffer): void {
  const packet = 27 + (firstPage[26] as number)
  // Vorbis: "\x01vorbis", version (4), channels; Opus: "OpusHead", version (1), channels.
  const channels = firstPage[packet + (codec === 'vorbis' ? 11 : 9)]
  if (channels !== undefined && channels > WAV_LIMITS.maxChannels) {
    throw unplayable(`the stream has ${channels} channels; the service plays 1 to ${WAV_LIMITS.maxChannels}`)
  }
}

/**
 * Ogg Vorbis (at its own rate) or Ogg Opus (at 48 kHz, as Opus decodes) to
 * 16-bit PCM. The decoders are gapless: Opus drops the header's pre-skip, and
 * both cut the last page at its granule position.
 */
export async function decodeOgg (codec: 'vorbis' | 'opus', source: ByteSource, sink: WavSink): Promise<void> {
  const decoder = await createDecoder(codec)
  await decoder.ready
  const pages = new OggPages()
  const take = (decoded: OggDecoded): void => {
    const error = decoded.errors[0]
    if (error !== undefined) throw corrupt(`the Ogg ${codec === 'vorbis' ? 'Vorbis' : 'Opus'} stream is corrupt: the decoder reported ${error.message.trim()} within its first ${error.inputBytes} bytes`)
    if (decoded.samplesDecoded === 0) return
    const channels = decoded.channelData.length
    sink.start({ encoding: 'int', bitsPerSample: 16, channels, sampleRate: decoded.sampleRate, blockAlign: channels * 2 })
    sink.write(floatToInt16(decoded.channelData, decoded.samplesDecoded))
  }
  try {
    for await (const chunk of source.chunks()) {
      // Page by page: a page holds at most 255 packets, so what one call
      // decodes stays small, even for pages of near-silence (a kilobyte of
      // Opus can hold 30 s of it).
      for (const page of pages.push(chunk)) {
        if (page.readUInt32LE(18) === 0) checkChannels(codec, page)
        take(await decoder.decode(page))
      }
    }
    pages.end()
    take(await decoder.flush())
  } finally {
    decoder.free()
  }
}
