/**
 * Backup and restore of the whole library as a `.tar.gz`: each track's
 * pristine audio under `tracks/<filename>`, then `manifest.json` with each
 * track's metadata and each file's size and SHA-256. A track's audio is a pure
 * function of its pristine copy and its counts, so that is all a restore
 * needs: it renders the rest. No HTTP here; the routes adapt it.
 */
export { BackupError, type BackupErrorCode } from './backup-error.js'
export {
  BACKUP_FORMAT, BACKUP_SCHEMA_VERSION, MANIFEST_NAME, TRACKS_FOLDER,
  type BackupFile, type BackupManifest, type BackupTrack
} from './manifest.js'
export { createBackupStream, type BackupEntry, type BackupInfo } from './write-backup.js'
export { DEFAULT_MAX_MANIFEST_BYTES, DEFAULT_MAX_TRACKS, readBackup, type BackupLimits, type RestoredBackup } from './read-backup.js'
