import { open, rm, type FileHandle } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { readWavLayout, WavFormatError } from '../riff.js'
import type { SampleEncoding } from '../wav-format.js'
import { detectFormat, unsupportedReason } from './detect.js'
import { SUPPORTED_FORMATS_TEXT, type AudioFormat } from './formats.js'
import { DecodeJob } from './job.js'
import { UploadHead } from './upload-head.js'
import { corrupt, unplayable, UploadError } from './upload-error.js'
import { MAX_WAV_BYTES } from './wav-sink.js'

export interface DecodeOptions {
  /** Refuse the upload (413) as soon as more bytes than this have arrived. */
  maxBytes: number
  /** Refuse (422) audio whose WAV would be larger: a small compressed file can decode to gigabytes. At most, and by default, 4 GiB, all a RIFF file can hold. */
  maxOutputBytes?: number
  /** Stop: the promise rejects with the signal's reason, and nothing is left at `outPath`. */
  signal?: AbortSignal
}

/** What was stored at `outPath`: a PCM (or, from float sources, IEEE float) WAV file. */
export interface DecodedAudio {
  /** The format the upload was in, told from its bytes. */
  format: AudioFormat
  sampleRate: number
  channels: number
  bitsPerSample: number
  encoding: SampleEncoding
  frames: number
}

type Input = AsyncIterable<Uint8Array> | Readable

/** A data chunk size that means "until the end of the file" (ffmpeg writing to a pipe). */
const STREAMING_DATA_SIZE = 0xffffffff

/**
 * Decode an uploaded audio file to a WAV file the service can play, streamed
 * through a worker thread: memory stays bounded whatever the length, and the
 * main thread only moves bytes.
 *
 * `outPath` is created exclusively (an existing file is an EEXIST rejection
 * and is left alone). On any failure or abort, `outPath` is removed before
 * the promise rejects. Refusals are UploadErrors (413, 415, 422); input,
 * disk and internal errors are passed on as they are.
 *
 * When decoding stops early (413, an early 422, abort), the input is left
 * where it is, not destroyed: the caller owns it (for an HTTP request: reply,
 * then close the connection).
 */
export async function decodeToWav (input: Input, outPath: string, options: DecodeOptions): Promise<DecodedAudio> {
  const { maxBytes, maxOutputBytes = MAX_WAV_BYTES, signal } = options
  if (!(maxBytes >= 0) || !(maxOutputBytes > 0)) throw new RangeError('decodeToWav: maxBytes must be 0 or more, maxOutputBytes more than 0')
  signal?.throwIfAborted()
  // Read back too: a WAV upload is checked with readWavLayout once written.
  const file = await open(outPath, 'wx+')
  // Stops every wait at once: the caller's abort, or the job failing mid-upload.
  const stop = new AbortController()
  const onAbort = (): void => stop.abort(signal?.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  const chunks = iterate(input)
  const state: { job?: DecodeJob } = {}
  try {
    const { format, decoded } = await feed(chunks, state, stop, file.fd, { maxBytes, maxOutputBytes })
    const audio = decoded === undefined ? await checkStoredWav(file) : { format, ...decoded }
    await file.sync()
    await file.close()
    return audio
  } catch (err) {
    Promise.resolve().then(() => chunks.return?.()).catch(() => {})
    await state.job?.cancel()
    await file.close().catch(() => {})
    await rm(outPath, { force: true })
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

function iterate (input: Input): AsyncIterator<unknown> {
  // A request stream must survive a refusal, so the HTTP layer can still answer on it.
  if (input instanceof Readable) return input.iterator({ destroyOnReturn: false })
  return input[Symbol.asyncIterator]()
}

async function feed (
  chunks: AsyncIterator<unknown>,
  state: { job?: DecodeJob },
  stop: AbortController,
  fd: number,
  limits: { maxBytes: number, maxOutputBytes: number }
) {
  const head = new UploadHead()
  let format: AudioFormat | undefined
  let received = 0
  const start = (bytes: Buffer): DecodeJob => {
    format = detectFormat(bytes)
    if (format === undefined) {
      throw new UploadError('EA_UNSUPPORTED_FORMAT', `${unsupportedReason(bytes)}; supported formats: ${SUPPORTED_FORMATS_TEXT}`)
    }
    const job = new DecodeJob(format, fd, limits.maxOutputBytes)
    // A job that fails mid-upload stops the reading at once, not at the end of the upload.
    job.result.catch((err: unknown) => stop.abort(err))
    state.job = job
    job.send(bytes)
    return job
  }
  for (;;) {
    const next = await until(chunks.next(), stop.signal)
    if (next.done === true) break
    const chunk = toBuffer(next.value)
    received += chunk.length
    if (received > limits.maxBytes) {
      throw new UploadError('EA_UPLOAD_TOO_LARGE', `the upload is larger than ${limits.maxBytes} bytes, the most the service takes`)
    }
    if (state.job !== undefined) {
      state.job.send(chunk)
    } else {
      const bytes = head.push(chunk)
      if (bytes === undefined) continue
      start(bytes)
    }
    await until((state.job as DecodeJob).room(), stop.signal)
  }
  const job = state.job ?? start(head.take())
  job.finishInput()
  const decoded = await until(job.result, stop.signal)
  return { format: format as AudioFormat, decoded }
}

function toBuffer (chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw new TypeError(`decodeToWav reads bytes; the input gave ${typeof chunk === 'string' ? 'a string' : typeof chunk}`)
}

/** `promise`, unless `signal` aborts first. Listeners are removed, so long uploads add up nothing. */
async function until<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(value => {
      signal.removeEventListener('abort', onAbort)
      resolve(value)
    }, (err: unknown) => {
      signal.removeEventListener('abort', onAbort)
      reject(err)
    })
  })
}

/** WavFormatError codes that name a variant the service does not take, rather than a broken file. */
const UNSUPPORTED_WAV = new Set(['WAV_RIFX', 'WAV_NOT_RIFF', 'WAV_COMPRESSED', 'WAV_UNSUPPORTED_BITS'])
const UNPLAYABLE_WAV = new Set(['WAV_BAD_RATE', 'WAV_BAD_CHANNELS', 'WAV_TOO_LONG'])

function refusalOf (err: WavFormatError): UploadError {
  if (UNSUPPORTED_WAV.has(err.code)) return new UploadError('EA_UNSUPPORTED_FORMAT', err.message)
  if (UNPLAYABLE_WAV.has(err.code)) return unplayable(err.message)
  return corrupt(`the WAV file is broken: ${err.message}`)
}

/** A WAV is stored as sent: check it with the parser the service plays it with, and refuse a cut-off one. */
async function checkStoredWav (file: FileHandle): Promise<DecodedAudio> {
  let layout
  try {
    layout = await readWavLayout(file)
  } catch (err) {
    throw err instanceof WavFormatError ? refusalOf(err) : err
  }
  const sizeField = Buffer.alloc(4)
  await file.read(sizeField, 0, 4, layout.dataOffset - 4)
  const declared = sizeField.readUInt32LE(0)
  const present = layout.fileSize - layout.dataOffset
  if (layout.frames === 0) throw unplayable('the file holds no audio frames')
  if (declared === STREAMING_DATA_SIZE) {
    // Written to a pipe, the sizes were unknown: state them, so that every reader agrees on the length.
    sizeField.writeUInt32LE(present, 0)
    await file.write(sizeField, 0, 4, layout.dataOffset - 4)
    sizeField.writeUInt32LE(layout.fileSize - 8, 0)
    await file.write(sizeField, 0, 4, 4)
  } else if (declared > present) {
    throw corrupt(`the WAV file is truncated: its data chunk announces ${declared} bytes; ${present} are there`)
  }
  const { sampleRate, channels, bitsPerSample, encoding } = layout.format
  return { format: 'wav', sampleRate, channels, bitsPerSample, encoding, frames: layout.frames }
}
