import { Worker } from 'node:worker_threads'
import { workerOptions, workerUrl } from '../worker-source.js'

const WORKER_URL = workerUrl(import.meta.url, 'worker')

/**
 * A small heap: decoding keeps little, and a small heap is collected often,
 * so the garbage of a long decode does not pile up (measured: RSS grows by
 * about 15 MB over a 20-minute MP3, against 90 MB with the defaults). A
 * file that needs more takes down its worker only.
 */
export const WORKER_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 }

export interface WorkerPoolOptions {
  /** Workers kept warm between uploads: starting one (and compiling a decoder) takes tens of ms. */
  maxIdle?: number
  /** An idle worker is stopped after this long. */
  idleMs?: number
  /** What to start (tests start stand-ins). */
  spawn?: () => Worker
}

/** Decoding workers, reused from one upload to the next. */
export class WorkerPool {
  private readonly idle: Worker[] = []
  private readonly timers = new Map<Worker, NodeJS.Timeout>()
  private readonly maxIdle: number
  private readonly idleMs: number
  private readonly spawn: () => Worker

  constructor (options: WorkerPoolOptions = {}) {
    this.maxIdle = options.maxIdle ?? 2
    this.idleMs = options.idleMs ?? 30_000
    this.spawn = options.spawn ?? (() => new Worker(WORKER_URL, workerOptions(import.meta.url, { resourceLimits: WORKER_RESOURCE_LIMITS })))
  }

  get idleCount (): number {
    return this.idle.length
  }

  /** A worker for one job: an idle one, or a new one. */
  acquire (): Worker {
    const warm = this.idle.pop()
    if (warm !== undefined) {
      this.forget(warm)
      warm.ref()
      return warm
    }
    const worker = this.spawn()
    // An idle worker that fails is simply dropped; a busy one's job hears of it.
    worker.on('error', () => this.forget(worker))
    worker.on('exit', () => this.forget(worker))
    return worker
  }

  /** Give back a worker whose job ended cleanly; an idle worker does not keep the process alive. */
  release (worker: Worker): void {
    if (this.idle.length >= this.maxIdle) {
      worker.terminate().catch(() => {})
      return
    }
    worker.unref()
    this.idle.push(worker)
    const timer = setTimeout(() => {
      this.forget(worker)
      worker.terminate().catch(() => {})
    }, this.idleMs)
    timer.unref()
    this.timers.set(worker, timer)
  }

  /** Stop a worker whose state is unknown (it crashed, or a job would not stop). */
  async discard (worker: Worker): Promise<void> {
    this.forget(worker)
    await worker.terminate()
  }

  private forget (worker: Worker): void {
    const index = this.idle.indexOf(worker)
    if (index >= 0) this.idle.splice(index, 1)
    clearTimeout(this.timers.get(worker))
    this.timers.delete(worker)
  }
}

export const decoderWorkers = new WorkerPool()
