import { AUDIO_FORMATS, type AudioFormat } from './formats.js'
import { mpegFrameHeader } from './mpeg-frame.js'

export { AUDIO_FORMATS, type AudioFormat }

/** Bytes after any ID3v2 tag that `detectFormat` may look at; enough for two MP3 frames or an Ogg page header. */
export const PROBE_BYTES = 4096

const ID3_HEADER_LENGTH = 10
const ID3_FOOTER_FLAG = 0x10
const OGG_PAGE_HEADER_LENGTH = 27

/**
 * The length of the ID3v2 tag `head` starts with (header, body and footer),
 * 0 when it starts with none, undefined when `head` is too short to say.
 */
export function id3v2Length (head: Uint8Array): number | undefined {
  const prefix = Math.min(head.length, 3)
  if (Buffer.from(head.buffer, head.byteOffset, prefix).toString('latin1') !== 'ID3'.slice(0, prefix)) return 0
  if (head.length < ID3_HEADER_LENGTH) return undefined
  const size = head.subarray(6, 10)
  const major = head[3] as number
  // A real tag has version 2.2 to 2.4 and a size in 7-bit "syncsafe" bytes.
  if (major < 2 || major > 4 || size.some(b => b >= 0x80)) return 0
  const body = size.reduce((n, b) => n * 128 + b, 0)
  const footer = ((head[5] as number) & ID3_FOOTER_FLAG) !== 0 ? ID3_HEADER_LENGTH : 0
  return ID3_HEADER_LENGTH + body + footer
}

function isMp3 (head: Buffer): boolean {
  const first = mpegFrameHeader(head, 0)
  if (first === undefined) return false
  // One header could be chance; a second one where the first frame ends is not.
  if (head.length < first.frameLength + 4) return true
  const next = mpegFrameHeader(head, first.frameLength)
  return next !== undefined && next.version === first.version && next.sampleRate === first.sampleRate
}

function oggCodec (head: Buffer): AudioFormat | undefined {
  if (head.length < OGG_PAGE_HEADER_LENGTH) return undefined
  const packet = OGG_PAGE_HEADER_LENGTH + (head[26] as number)
  if (head.toString('latin1', packet, packet + 7) === '\x01vorbis') return 'ogg-vorbis'
  if (head.toString('latin1', packet, packet + 8) === 'OpusHead') return 'ogg-opus'
  return undefined
}

/**
 * The audio format of a file from its first bytes (its name and the request's
 * Content-Type are not consulted), or undefined for anything else. Give it at
 * least the first PROBE_BYTES after any ID3v2 tag. A leading ID3v2 tag is
 * skipped; when `head` ends inside it, the answer is 'mp3', the format that
 * carries such tags.
 */
export function detectFormat (head: Buffer): AudioFormat | undefined {
  const id3 = id3v2Length(head)
  if (id3 === undefined) return undefined
  if (id3 > 0 && head.length <= id3) return 'mp3'
  if (id3 > 0) return detectFormat(head.subarray(id3))
  const magic = head.toString('latin1', 0, 4)
  const form = head.toString('latin1', 8, 12)
  // RIFX and RF64 are named WAV so that the refusal can say which variant it is.
  if ((magic === 'RIFF' || magic === 'RIFX' || magic === 'RF64') && form === 'WAVE') return 'wav'
  if (magic === 'FORM' && (form === 'AIFF' || form === 'AIFC')) return 'aiff'
  if (magic === 'fLaC') return 'flac'
  if (magic === 'OggS') return oggCodec(head)
  return isMp3(head) ? 'mp3' : undefined
}

/** Why `head` is refused, naming what it seems to be where that helps the sender. */
export function unsupportedReason (head: Buffer): string {
  if (head.length === 0) return 'the upload is empty: send the audio file itself as the body'
  const magic = head.toString('latin1', 0, 4)
  if (magic === 'OggS') return 'an Ogg file, but not Vorbis or Opus'
  if (head.toString('latin1', 4, 8) === 'ftyp') return 'an MP4 / M4A file (AAC or ALAC), which is not supported'
  if (magic === 'RIFF' || magic === 'FORM') return `a ${magic} file of type '${head.toString('latin1', 8, 12)}', not audio the service decodes`
  return 'not audio in a supported format'
}
