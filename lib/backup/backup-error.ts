import { TrackError } from '../track-error.js'

const UNPROCESSABLE_CONTENT = 422
const CONTENT_TOO_LARGE = 413

export type BackupErrorCode = 'EA_BAD_BACKUP' | 'EA_BACKUP_TOO_LARGE'

/**
 * A backup archive that will not be restored, and why, in words safe to show
 * the client (never a server path). 422 `EA_BAD_BACKUP` for an archive that is
 * malformed, hostile or inconsistent; 413 `EA_BACKUP_TOO_LARGE` for one that
 * may be well formed but is bigger than the limits the caller set.
 */
export class BackupError extends TrackError {
  declare readonly code: BackupErrorCode

  constructor (statusCode: number, code: BackupErrorCode, message: string) {
    super(statusCode, code, message)
    this.name = 'BackupError'
  }
}

export function badBackup (problem: string): BackupError {
  return new BackupError(UNPROCESSABLE_CONTENT, 'EA_BAD_BACKUP', `Invalid backup: ${problem}`)
}

export function backupTooLarge (problem: string): BackupError {
  return new BackupError(CONTENT_TOO_LARGE, 'EA_BACKUP_TOO_LARGE', `Backup too large: ${problem}`)
}

/** An archive entry's name as it may appear in a message: quoted, control characters escaped, bounded. */
export function quoted (name: string): string {
  const MAX_SHOWN = 120
  const shown = name.length > MAX_SHOWN ? `${name.slice(0, MAX_SHOWN)}…` : name
  return JSON.stringify(shown)
}
