/** An expected failure with an HTTP status, for the error handler to render. */
export class TrackError extends Error {
  readonly statusCode: number
  readonly code: string
  readonly headers: Record<string, string>

  constructor (statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.statusCode = statusCode
    this.code = code
    this.headers = headers
  }
}

const SERVICE_UNAVAILABLE = 503
/** A person has to free space or remount: ask clients to come back in a minute, not hammer. */
const RETRY_AFTER_SECONDS = '60'

/**
 * A file-system error that is about the disk rather than the request (full,
 * read-only, not ours to write), as a 503 that says so in words; undefined
 * for any other error. The cause is the operator's to fix, and retrying later
 * may well work.
 */
export function diskTrouble (err: unknown): TrackError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const headers = { 'retry-after': RETRY_AFTER_SECONDS }
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new TrackError(SERVICE_UNAVAILABLE, 'EA_DISK_FULL', 'The service cannot write: its disk is full (or over quota). Try again once space is freed.', headers)
    case 'EROFS':
      return new TrackError(SERVICE_UNAVAILABLE, 'EA_DISK_READ_ONLY', 'The service cannot write: its disk is read-only. Try again once it is writable.', headers)
    case 'EACCES':
    case 'EPERM':
      return new TrackError(SERVICE_UNAVAILABLE, 'EA_DISK_PERMISSION', 'The service cannot write: it has no permission on its data folder.', headers)
    case 'EMFILE':
    case 'ENFILE':
      return new TrackError(SERVICE_UNAVAILABLE, 'EA_TOO_MANY_FILES', 'The service has too many files open right now; try again shortly.', { 'retry-after': '5' })
    default:
      return undefined
  }
}
