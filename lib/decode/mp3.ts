import type { ByteSource } from './byte-source.js'
import { mpegFrameHeader, xingInfo, type MpegFrameHeader, type XingInfo } from './mpeg-frame.js'
import { floatToInt16 } from './pcm-convert.js'
import { corrupt } from './upload-error.js'
import type { WavSink } from './wav-sink.js'

/**
 * Follows the MP3 frame chain alongside the decoder, which recovers from
 * damage silently: it knows the stream's format, finds a Xing/LAME tag and
 * notices a last frame cut short. Where the chain breaks (an ID3v1 or APE tag
 * at the end, or junk) it stops following; the decoder reports real damage.
 */
export class Mp3FrameChain {
  first: MpegFrameHeader | undefined
  xing: XingInfo | undefined
  /** Whole frames seen, a Xing/Info frame included. */
  frames = 0
  private carry: Uint8Array = new Uint8Array(0)
  /** Bytes of the current frame still to come. */
  private skip = 0
  private following = true

  push (chunk: Uint8Array): void {
    if (!this.following) return
    if (this.skip >= chunk.length) {
      this.skip -= chunk.length
      return
    }
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk])
    let at = this.skip
    this.skip = 0
    this.carry = new Uint8Array(0)
    while (at < data.length) {
      const header = mpegFrameHeader(data, at)
      if (header === undefined) {
        if (data.length - at < 4) this.carry = data.slice(at)
        else this.following = false
        return
      }
      if (this.first === undefined) {
        // The first frame may hold a Xing tag: wait until all of it is here.
        if (data.length - at < header.frameLength) {
          this.carry = data.slice(at)
          return
        }
        this.first = header
        this.xing = xingInfo(data.subarray(at, at + header.frameLength), header)
      } else if (header.sampleRate !== this.first.sampleRate || header.channels !== this.first.channels) {
        throw corrupt(`the MP3 stream changes from ${this.first.sampleRate} Hz ${this.first.channels === 1 ? 'mono' : 'stereo'} to ${header.sampleRate} Hz ${header.channels === 1 ? 'mono' : 'stereo'} at frame ${this.frames + 1}; the service stores one format per track`)
      }
      this.frames++
      at += header.frameLength
    }
    this.skip = at - data.length
  }

  /** True when the input ended inside a frame. */
  get cutShort (): boolean {
    return this.following && (this.skip > 0 || (this.first === undefined && this.carry.length > 0))
  }
}

interface Mp3Decoded {
  channelData: Float32Array[]
  samplesDecoded: number
  sampleRate: number
  errors: Array<{ message: string, inputBytes: number }>
}

/**
 * MP3 (MPEG-1/2/2.5 Layer III, CBR or VBR) to 16-bit PCM at its own rate.
 * mpg123 is gapless: with a LAME tag it drops the encoder delay and padding,
 * so the track has the source's exact number of samples.
 */
export async function decodeMp3 (source: ByteSource, sink: WavSink): Promise<void> {
  const { MPEGDecoder } = await import('mpg123-decoder')
  const decoder = new MPEGDecoder()
  await decoder.ready
  const chain = new Mp3FrameChain()
  let samples = 0
  const take = (decoded: Mp3Decoded): void => {
    const error = decoded.errors[0]
    if (error !== undefined) throw corrupt(`the MP3 stream is corrupt: the decoder reported ${error.message.trim()} within its first ${error.inputBytes} bytes`)
    if (decoded.samplesDecoded === 0) return
    // mpg123-decoder always hands out two channels; a mono stream has them equal.
    const channels = chain.first?.channels === 1 ? decoded.channelData.slice(0, 1) : decoded.channelData
    sink.start({ encoding: 'int', bitsPerSample: 16, channels: channels.length, sampleRate: decoded.sampleRate, blockAlign: channels.length * 2 })
    sink.write(floatToInt16(channels, decoded.samplesDecoded))
    samples += decoded.samplesDecoded
  }
  try {
    for await (const chunk of source.chunks()) {
      chain.push(chunk)
      take(decoder.decode(chunk))
    }
  } finally {
    decoder.free()
  }
  checkComplete(chain, samples)
}

function checkComplete (chain: Mp3FrameChain, samples: number): void {
  const { first, xing } = chain
  if (first === undefined) throw corrupt('the MP3 file is truncated: it ends inside its first frame')
  if (chain.cutShort) throw corrupt('the MP3 file is truncated: it ends inside a frame')
  const announced = xing?.frames
  if (announced === undefined) return
  const audioFrames = chain.frames - 1
  if (xing?.delay !== undefined && xing.padding !== undefined) {
    const expected = announced * first.samplesPerFrame - xing.delay - xing.padding
    if (samples < expected) throw corrupt(`the MP3 file is truncated: ${samples} of the ${expected} samples its LAME tag announces could be decoded`)
  } else if (audioFrames < announced) {
    throw corrupt(`the MP3 file is truncated: ${audioFrames} of the ${announced} frames its Xing tag announces are there`)
  }
}
