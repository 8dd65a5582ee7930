import { extname, basename } from 'node:path'

/**
 * Longest track name: file systems take 255 bytes, and the service's own
 * temporary files (`<name>.<uuid>.copy.tmp`, `.<title>.json.<pid>.<hex>.tmp`)
 * need room beside it.
 */
export const MAX_NAME_BYTES = 200

/**
 * Why `name` cannot name a track directly inside AUDIO_DIR, or undefined when
 * it can. Only plain names ending in `.wav` (any case) qualify: no path
 * separators of either kind, no NUL, no hidden files, no `.`/`..`, so a
 * joined path can never leave the folder.
 */
export function invalidTrackName (name: string): string | undefined {
  if (name.length === 0) return 'the file name is empty'
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `the file name is longer than ${MAX_NAME_BYTES} bytes (the service needs room for its temporary files)`
  if (/[/\\\0]/.test(name)) return 'the file name must not contain slashes, backslashes or NUL bytes'
  if (name.startsWith('.')) return 'the file name must not start with a dot'
  if (!isWavName(name)) return 'only .wav files are served'
  return undefined
}

export function isWavName (name: string): boolean {
  return extname(name).toLowerCase() === '.wav' && basename(name, extname(name)).length > 0
}

/** The title the Flask service reported: the file name without its extension. */
export function titleOf (filename: string): string {
  return basename(filename, extname(filename))
}

/** `<name without .wav>.json`, where the Flask service kept a track's metadata. */
export function metadataNameOf (filename: string): string {
  return `${titleOf(filename)}.json`
}
