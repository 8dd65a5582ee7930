/**
 * Uploads: any supported audio file in, a WAV file the service can play out.
 * Pure domain code (no HTTP); the route maps UploadError to its status.
 *
 * - WAV is stored as sent (sizes a pipe left at 0xFFFFFFFF are filled in),
 *   once the service's own parser (readWavLayout) accepts it.
 * - AIFF / AIFF-C (NONE, twos, sowt, fl32, fl64) and FLAC (up to 24-bit) are
 *   stored sample for sample at their rate, channels and depth (8-bit as
 *   unsigned 8-bit WAV, float as IEEE float WAV).
 * - MP3, Ogg Vorbis and Ogg Opus become 16-bit PCM at the decoded rate (Opus:
 *   48 kHz), gapless: exactly the samples that were encoded.
 * - Truncated or damaged files are refused (422), not stored in part.
 *
 * Decode into a temporary name and rename it into place: `outPath` exists
 * (partly written) while decoding runs.
 */
export { decodeToWav, type DecodedAudio, type DecodeOptions } from './decode-to-wav.js'
export { detectFormat, PROBE_BYTES } from './detect.js'
export { AUDIO_FORMATS, LOSSLESS_FORMATS, SUPPORTED_FORMATS_TEXT, type AudioFormat } from './formats.js'
export { UPLOAD_STATUS, UploadError, type UploadErrorCode } from './upload-error.js'
