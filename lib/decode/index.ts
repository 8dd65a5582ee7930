/**
 * Uploads: any supported audio file in, a WAV file the service can play out.
 * Pure domain code (no HTTP); the route maps UploadError to its status.
 */
export { decodeToWav, type DecodedAudio, type DecodeOptions } from './decode-to-wav.js'
export { detectFormat, PROBE_BYTES } from './detect.js'
export { AUDIO_FORMATS, LOSSLESS_FORMATS, SUPPORTED_FORMATS_TEXT, type AudioFormat } from './formats.js'
export { UPLOAD_STATUS, UploadError, type UploadErrorCode } from './upload-error.js'
