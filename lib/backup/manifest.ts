import { classifyMetadata, type TrackMetadata } from '../track-metadata.js'
import { invalidTrackName } from '../track-name.js'
import { WAV_LIMITS } from '../riff.js'

export const BACKUP_FORMAT = 'ephemeral-audio-backup'
/** Bumped whenever a reader of the old version would misread the new archives. */
export const BACKUP_SCHEMA_VERSION = 1
export const MANIFEST_NAME = 'manifest.json'
export const TRACKS_FOLDER = 'tracks'

/** One file in the archive, as the manifest vouches for it. */
export interface BackupFile {
  /** The entry's name in the archive: `tracks/<metadata.filename>`. */
  path: string
  size: number
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string
}

export interface BackupTrack {
  /** The track's metadata as the service stored it: counts, baseline, identity, layout. */
  metadata: TrackMetadata
  /** The audio as the track was born; its current audio is this rendered at the counts. */
  pristine: BackupFile
}

/** `manifest.json`, the archive's last entry. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT
  schema_version: typeof BACKUP_SCHEMA_VERSION
  /** The version of the service that wrote the backup (package.json). */
  service_version: string
  /** ISO 8601. */
  created_at: string
  /** In archive order. */
  tracks: BackupTrack[]
}

export const trackPath = (filename: string) => `${TRACKS_FOLDER}/${filename}`

/** Compact: with a count per segment, an indented manifest would be mostly whitespace. */
export function encodeManifest (manifest: BackupManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest)}\n`)
}

/** Names that differ only in case are one track (they share a metadata file). */
export const nameKey = (filename: string) => filename.toLowerCase()

/**
 * Why `value` is not metadata a restore can trust, or undefined. The file it
 * describes must be called `filename`; its size is checked against the file's
 * own elsewhere.
 */
export function metadataProblem (value: unknown): string | undefined {
  const status = classifyMetadata(value)
  if (status !== 'ours') return `it is not this service's metadata (it looks ${status === 'flask' ? "like the Flask service's" : 'invalid'})`
  const m = value as TrackMetadata
  if (typeof m.filename !== 'string') return 'it has no filename'
  const badName = invalidTrackName(m.filename)
  if (badName !== undefined) return `its filename is not a track name: ${badName}`
  if (typeof m.title !== 'string') return 'its title is not a string'
  if (m.track_id.length === 0) return 'its track_id is empty'
  if (!isPositiveNumber(m.segment_duration)) return 'its segment_duration is not a positive number'
  if (typeof m.duration !== 'number' || !Number.isFinite(m.duration) || m.duration < 0) return 'its duration is not a number of seconds'
  if (!Number.isInteger(m.total_segments) || m.total_segments < 1 || m.total_segments > WAV_LIMITS.maxSegments) {
    return `its total_segments is not a whole number from 1 to ${WAV_LIMITS.maxSegments}`
  }
  if (m.segment_play_counts.length !== m.total_segments) {
    return `it has ${m.segment_play_counts.length} segment_play_counts for ${m.total_segments} segments`
  }
  if (!Array.isArray(m.baseline_play_counts) || !m.baseline_play_counts.every(isCount)) return 'its baseline_play_counts are not counts'
  if (m.baseline_play_counts.length !== m.total_segments) {
    return `it has ${m.baseline_play_counts.length} baseline_play_counts for ${m.total_segments} segments`
  }
  if (!isCount(m.total_streams)) return 'its total_streams is not a count'
  if (!isDate(m.created_at) || !isDate(m.updated_at)) return 'its created_at or updated_at is not a date'
  if (typeof m.file !== 'object' || m.file === null || !isCount(m.file.size) || typeof m.file.mtime_ms !== 'number') {
    return 'its file is not {size, mtime_ms}'
  }
  if (m.reset_pending !== undefined && m.reset_pending !== true) return 'its reset_pending is neither absent nor true'
  return undefined
}

function isCount (n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0
}

function isPositiveNumber (n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0
}

function isDate (s: unknown): boolean {
  return typeof s === 'string' && !Number.isNaN(Date.parse(s))
}

const SHA256_HEX = /^[0-9a-f]{64}$/

/** Why one manifest track cannot be trusted (its metadata, or the file it vouches for), or undefined. */
export function trackProblem (track: unknown): string | undefined {
  if (typeof track !== 'object' || track === null) return 'it is not an object'
  const { metadata, pristine } = track as Partial<Record<keyof BackupTrack, unknown>>
  const problem = metadataProblem(metadata)
  if (problem !== undefined) return `its metadata is not valid: ${problem}`
  const m = metadata as TrackMetadata
  const label = JSON.stringify(m.filename)
  if (typeof pristine !== 'object' || pristine === null) return `${label} has no pristine file`
  const file = pristine as Partial<BackupFile>
  if (file.path !== trackPath(m.filename)) return `${label}: its pristine file must be ${JSON.stringify(trackPath(m.filename))}, not ${JSON.stringify(file.path ?? null)}`
  if (!isCount(file.size)) return `${label}: its size is not a number of bytes`
  if (typeof file.sha256 !== 'string' || !SHA256_HEX.test(file.sha256)) return `${label}: its sha256 is not 64 lower-case hex digits`
  if (file.size !== m.file.size) return `${label}: its pristine file is ${file.size} bytes but its metadata says the track's file is ${m.file.size}`
  return undefined
}

/**
 * Check a parsed manifest's shape and every track's metadata: the problem in
 * words, or undefined. Whether the files match it is the reader's to check.
 */
export function manifestProblem (value: unknown, maxTracks: number): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${MANIFEST_NAME} is not a JSON object`
  const v = value as Record<string, unknown>
  if (v.format !== BACKUP_FORMAT) return `${MANIFEST_NAME} does not say it is an ${BACKUP_FORMAT} (format: ${JSON.stringify(v.format ?? null)})`
  if (v.schema_version === undefined) return `${MANIFEST_NAME} has no schema_version`
  if (v.schema_version !== BACKUP_SCHEMA_VERSION) {
    return `${MANIFEST_NAME} has schema_version ${JSON.stringify(v.schema_version)}; this service reads version ${BACKUP_SCHEMA_VERSION}`
  }
  if (typeof v.service_version !== 'string') return `${MANIFEST_NAME} has no service_version`
  if (!isDate(v.created_at)) return `${MANIFEST_NAME} has no created_at date`
  if (!Array.isArray(v.tracks)) return `${MANIFEST_NAME} has no tracks list`
  if (v.tracks.length > maxTracks) return `${MANIFEST_NAME} lists ${v.tracks.length} tracks; at most ${maxTracks} are restored`
  const names = new Set<string>()
  const ids = new Set<string>()
  for (const [i, track] of (v.tracks as unknown[]).entries()) {
    const problem = trackProblem(track)
    if (problem !== undefined) return `${MANIFEST_NAME}, track ${i + 1}: ${problem}`
    const m = (track as BackupTrack).metadata
    if (names.has(nameKey(m.filename))) return `${MANIFEST_NAME} lists ${JSON.stringify(m.filename)} twice (names that differ only in case are one track)`
    if (ids.has(m.track_id)) return `${MANIFEST_NAME} gives ${JSON.stringify(m.filename)} the track_id of another track`
    names.add(nameKey(m.filename))
    ids.add(m.track_id)
  }
  return undefined
}
