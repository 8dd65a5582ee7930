import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads'
import type { AudioFormat } from './formats.js'
import { unplayable } from './upload-error.js'
import { deserialiseError, type DecodedFormat, type FromJob, type JobStart, type ToJob } from './protocol.js'
import { decoderWorkers, type WorkerPool } from './worker-pool.js'

/** Bytes sent to the worker and not yet taken by its decoder: what a slow decoder makes us hold. */
const MAX_IN_FLIGHT = 1 << 20
/** A job that does not answer a cancel in this time is stopped with its worker. */
const CANCEL_MS = 5_000

export interface JobOptions {
  pool?: WorkerPool
  cancelMs?: number
}

/** One decoding job on a worker, seen from the main thread. */
export class DecodeJob {
  /** Settles with the job's last message: the decoded format (undefined for WAV, stored as sent), or why it failed. */
  readonly result: Promise<DecodedFormat | undefined>
  private readonly worker: Worker
  private readonly port: MessagePort
  private readonly fail: (err: Error) => void
  private inFlight = 0
  private wake: (() => void) | undefined
  private ended = false
  private readonly onError: (err: Error) => void
  private readonly onExit: (code: number) => void
  private readonly pool: WorkerPool
  private readonly cancelMs: number

  constructor (format: AudioFormat, fd: number, maxFileBytes: number, options: JobOptions = {}) {
    this.pool = options.pool ?? decoderWorkers
    this.cancelMs = options.cancelMs ?? CANCEL_MS
    this.worker = this.pool.acquire()
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    let resolve!: (decoded: DecodedFormat | undefined) => void
    let reject!: (err: Error) => void
    this.result = new Promise((...settlers) => { [resolve, reject] = settlers })
    this.fail = reject
    // The caller may stop listening (abort, input error) before the job ends.
    this.result.catch(() => {})
    port1.on('message', (message: FromJob) => {
      switch (message.type) {
        case 'taken':
          this.inFlight -= message.bytes
          if (this.inFlight <= MAX_IN_FLIGHT) this.notify()
          break
        case 'done': this.end(true, () => resolve(message.decoded)); break
        case 'failed': this.end(true, () => reject(deserialiseError(message.error))); break
        case 'cancelled': this.end(true, () => reject(new Error('the decoding job was cancelled')))
      }
    })
    this.onError = err => this.end(false, () => reject((err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? unplayable('decoding this file needs more memory than the service gives one upload')
      : err))
    this.onExit = code => this.end(false, () => reject(new Error(`the decoder worker stopped (exit code ${code})`)))
    this.worker.once('error', this.onError)
    this.worker.once('exit', this.onExit)
    this.worker.postMessage({ port: port2, format, fd, maxFileBytes } satisfies JobStart, [port2])
  }

  /** The job's last word: after it the worker writes nothing more, and goes back to the pool if it is sound. */
  private end (workerSound: boolean, settle: () => void): void {
    if (this.ended) return
    this.ended = true
    this.worker.off('error', this.onError)
    this.worker.off('exit', this.onExit)
    this.port.close()
    if (workerSound) this.pool.release(this.worker)
    else this.pool.discard(this.worker).catch(() => {})
    this.notify()
    settle()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  send (chunk: Uint8Array): void {
    // A copy of its own, transferred: the chunk may share a pooled buffer with others.
    const bytes = new Uint8Array(chunk)
    this.inFlight += bytes.length
    this.port.postMessage({ type: 'chunk', bytes } satisfies ToJob, [bytes.buffer])
  }

  finishInput (): void {
    this.port.postMessage({ type: 'end' } satisfies ToJob)
  }

  /** Resolves once the worker has room for more bytes, or the job has ended. */
  async room (): Promise<void> {
    while (this.inFlight > MAX_IN_FLIGHT && !this.ended) {
      await new Promise<void>(resolve => { this.wake = resolve })
    }
  }

  /** Stop the job; resolves once it writes no more (stopping its worker if it does not answer). */
  async cancel (): Promise<void> {
    if (this.ended) return
    this.port.postMessage({ type: 'cancel' } satisfies ToJob)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>(resolve => { timer = setTimeout(resolve, this.cancelMs, true) })
    const tooLate = await Promise.race([this.result.then(() => false, () => false), late])
    clearTimeout(timer)
    if (tooLate) {
      this.end(false, () => this.fail(new Error('the decoding job did not stop when cancelled')))
      await this.worker.terminate()
    }
  }
}
