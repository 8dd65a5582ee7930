/** Messages between decodeToWav (main thread) and a decoding job in the worker. */
import type { MessagePort } from 'node:worker_threads'
import type { SampleEncoding } from '../wav-format.js'
import type { AudioFormat } from './formats.js'
import { UploadError, type UploadErrorCode } from './upload-error.js'

/** Sent to the worker to start a job; the job's own messages go over `port`. */
export interface JobStart {
  port: MessagePort
  format: AudioFormat
  /** Open for writing by the main thread, which closes it after the job's last message. */
  fd: number
  maxFileBytes: number
}

export type ToJob =
  | { type: 'chunk', bytes: Uint8Array }
  | { type: 'end' }
  | { type: 'cancel' }

export interface DecodedFormat {
  sampleRate: number
  channels: number
  bitsPerSample: number
  encoding: SampleEncoding
  frames: number
}

export type SerialisedError =
  | { upload: true, code: UploadErrorCode, message: string }
  | { upload: false, name: string, message: string, code?: string, stack?: string }

/** After `done`, `failed` or `cancelled` the job writes nothing more and sends nothing more. */
export type FromJob =
  | { type: 'taken', bytes: number }
  | { type: 'done', decoded: DecodedFormat | undefined }
  | { type: 'failed', error: SerialisedError }
  | { type: 'cancelled' }

export function serialiseError (err: unknown): SerialisedError {
  if (err instanceof UploadError) return { upload: true, code: err.code, message: err.message }
  const error = err instanceof Error ? err : new Error(String(err))
  const code = (error as NodeJS.ErrnoException).code
  return {
    upload: false,
    name: error.name,
    message: error.message,
    ...(code === undefined ? {} : { code }),
    ...(error.stack === undefined ? {} : { stack: error.stack })
  }
}

/** The error again, on this side: an UploadError, or an Error keeping its errno `code` (ENOSPC...). */
export function deserialiseError (error: SerialisedError): Error {
  if (error.upload) return new UploadError(error.code, error.message)
  const rebuilt: NodeJS.ErrnoException = new Error(error.message)
  rebuilt.name = error.name
  if (error.code !== undefined) rebuilt.code = error.code
  if (error.stack !== undefined) rebuilt.stack = error.stack
  return rebuilt
}
