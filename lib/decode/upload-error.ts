/** Statuses an upload can be refused with; named so the HTTP layer need not guess. */
export const UPLOAD_STATUS = {
  tooLarge: 413,
  unsupported: 415,
  unprocessable: 422
} as const

export type UploadErrorCode =
  /** More bytes arrived than `maxBytes` allows (413). */
  | 'EA_UPLOAD_TOO_LARGE'
  /** Not audio, or audio in a format or variant the service does not decode (415). */
  | 'EA_UNSUPPORTED_FORMAT'
  /** A supported format, but corrupt or truncated (422). */
  | 'EA_CORRUPT_AUDIO'
  /** Decoded fine, but the service cannot play the result: rate, channels, no frames, too long (422). */
  | 'EA_UNPLAYABLE_AUDIO'

const STATUS_OF: Readonly<Record<UploadErrorCode, number>> = {
  EA_UPLOAD_TOO_LARGE: UPLOAD_STATUS.tooLarge,
  EA_UNSUPPORTED_FORMAT: UPLOAD_STATUS.unsupported,
  EA_CORRUPT_AUDIO: UPLOAD_STATUS.unprocessable,
  EA_UNPLAYABLE_AUDIO: UPLOAD_STATUS.unprocessable
}

/**
 * An upload refused for what was sent, with the status and a stable code for
 * the HTTP layer. Messages describe the audio, never a path on this machine.
 */
export class UploadError extends Error {
  readonly statusCode: number
  readonly code: UploadErrorCode

  constructor (code: UploadErrorCode, message: string) {
    super(message)
    this.name = 'UploadError'
    this.code = code
    this.statusCode = STATUS_OF[code]
  }
}

export const corrupt = (message: string): UploadError => new UploadError('EA_CORRUPT_AUDIO', message)
export const unplayable = (message: string): UploadError => new UploadError('EA_UNPLAYABLE_AUDIO', message)
