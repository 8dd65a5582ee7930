/** The formats an upload may be in, as `detectFormat` names them. */
export const AUDIO_FORMATS = ['wav', 'aiff', 'flac', 'mp3', 'ogg-vorbis', 'ogg-opus'] as const
export type AudioFormat = typeof AUDIO_FORMATS[number]

/** Decoded sample for sample (the others are decoded to 16-bit PCM). */
export const LOSSLESS_FORMATS: ReadonlySet<AudioFormat> = new Set(['wav', 'aiff', 'flac'])

/** For messages: what a person would call the formats the service takes. */
export const SUPPORTED_FORMATS_TEXT =
  'WAV (PCM or float), AIFF / AIFF-C (uncompressed), FLAC (up to 24-bit), MP3, Ogg Vorbis, Ogg Opus'
