/** An MPEG-1/2/2.5 Layer III frame header: what the frame scanner and detection need. */
export interface MpegFrameHeader {
  /** 1, 2 or 2.5 */
  version: 1 | 2 | 2.5
  sampleRate: number
  channels: 1 | 2
  /** Bytes of the whole frame, header included. */
  frameLength: number
  samplesPerFrame: 1152 | 576
  /** Bytes of side information after the header (and its CRC): where a Xing tag would start. */
  sideInfoLength: number
  hasCrc: boolean
}

const BITRATES_KBPS: Readonly<Record<'v1' | 'v2', readonly number[]>> = {
  v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
}
const SAMPLE_RATES: Readonly<Record<1 | 2 | 2.5, readonly number[]>> = {
  1: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  2.5: [11025, 12000, 8000]
}
const VERSIONS = [2.5, undefined, 2, 1] as const
const LAYER_III = 0b01
const MODE_MONO = 0b11
const RESERVED_EMPHASIS = 0b10

/**
 * The Layer III frame header at `offset`, or undefined when the four bytes
 * there are not one. Layers I and II and free-format streams are refused:
 * the service takes MP3, and a free-format frame's length cannot be known
 * from its header.
 */
export function mpegFrameHeader (bytes: Uint8Array, offset: number): MpegFrameHeader | undefined {
  if (offset + 4 > bytes.length) return undefined
  const b1 = bytes[offset + 1] as number
  const b2 = bytes[offset + 2] as number
  const b3 = bytes[offset + 3] as number
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined
  const version = VERSIONS[(b1 >> 3) & 0b11]
  if (version === undefined || ((b1 >> 1) & 0b11) !== LAYER_III) return undefined
  const bitrateIndex = b2 >> 4
  const rateIndex = (b2 >> 2) & 0b11
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3 || (b3 & 0b11) === RESERVED_EMPHASIS) return undefined
  const bitrate = (BITRATES_KBPS[version === 1 ? 'v1' : 'v2'][bitrateIndex] as number) * 1000
  const sampleRate = SAMPLE_RATES[version][rateIndex] as number
  const padding = (b2 >> 1) & 1
  const channels = (b3 >> 6) === MODE_MONO ? 1 : 2
  const samplesPerFrame = version === 1 ? 1152 : 576
  const frameLength = Math.floor(samplesPerFrame / 8 * bitrate / sampleRate) + padding
  const sideInfoLength = version === 1 ? (channels === 1 ? 17 : 32) : (channels === 1 ? 9 : 17)
  return { version, sampleRate, channels, frameLength, samplesPerFrame, sideInfoLength, hasCrc: (b1 & 1) === 0 }
}

/** What a Xing/Info tag (and the LAME tag after it) in the first frame says about the stream. */
export interface XingInfo {
  /** Audio frames in the stream, not counting the frame that holds the tag. */
  frames?: number
  /** Encoder delay and padding in samples, from a LAME tag. */
  delay?: number
  padding?: number
}

const XING_FRAMES = 0x1
const XING_BYTES = 0x2
const XING_TOC = 0x4
const XING_QUALITY = 0x8
const TOC_LENGTH = 100
/** From the end of the Xing fields: encoder version (9), revision (1), lowpass (1), replay gain (8), flags (1), bitrate (1). */
const LAME_DELAY_OFFSET = 21

/** The Xing/Info tag of `frame` (one whole first frame), or undefined when it holds audio. */
export function xingInfo (frame: Uint8Array, header: MpegFrameHeader): XingInfo | undefined {
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
  const at = 4 + (header.hasCrc ? 2 : 0) + header.sideInfoLength
  if (at + 8 > buf.length) return undefined
  const tag = buf.toString('latin1', at, at + 4)
  if (tag !== 'Xing' && tag !== 'Info') return undefined
  const flags = buf.readUInt32BE(at + 4)
  let position = at + 8
  const info: XingInfo = {}
  if ((flags & XING_FRAMES) !== 0 && position + 4 <= buf.length) {
    info.frames = buf.readUInt32BE(position)
    position += 4
  }
  if ((flags & XING_BYTES) !== 0) position += 4
  if ((flags & XING_TOC) !== 0) position += TOC_LENGTH
  if ((flags & XING_QUALITY) !== 0) position += 4
  const encoder = buf.toString('latin1', position, position + 4)
  // LAME and ffmpeg's libavcodec/libavformat write the same LAME tag layout.
  if ((encoder === 'LAME' || encoder === 'Lavc' || encoder === 'Lavf') && position + LAME_DELAY_OFFSET + 3 <= buf.length) {
    const packed = buf.readUIntBE(position + LAME_DELAY_OFFSET, 3)
    info.delay = packed >> 12
    info.padding = packed & 0xfff
  }
  return info
}
