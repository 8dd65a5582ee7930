import type { ListenEvent, PlayEvent } from './history-store.js'
import type { AsyncHistory } from './worker-history.js'

export interface RecorderOptions {
  history: AsyncHistory
  log: { warn: (obj: object, msg: string) => void, error: (obj: object, msg: string) => void }
  /** Events waiting longer than this are written (one transaction per batch). */
  flushMs?: number
  /** A batch this large is written at once. */
  maxBatch?: number
  /** Events kept in memory while the database refuses them (a full disk); beyond it the oldest are dropped. */
  maxQueued?: number
}

/**
 * Collects plays and listens and hands them to the history in batches, off
 * the request path: a play's acknowledgement never waits for the history.
 * Every call to the history goes through one queue, so a lifecycle change
 * (an engine change continuing a life, a deletion) lands after the events
 * before it. A batch the database refuses is kept and tried again; plays are
 * idempotent there, so a retry never counts one twice.
 */
export class HistoryRecorder {
  private plays: PlayEvent[] = []
  private listens: ListenEvent[] = []
  private queue: Promise<void> = Promise.resolve()
  private readonly timer: NodeJS.Timeout
  private readonly history: AsyncHistory
  private readonly log: RecorderOptions['log']
  private readonly maxBatch: number
  private readonly maxQueued: number
  dropped = 0
  failures = 0

  /** Events noted and not yet handed to the history. */
  get pending (): number {
    return this.plays.length + this.listens.length
  }

  constructor (options: RecorderOptions) {
    this.history = options.history
    this.log = options.log
    this.maxBatch = options.maxBatch ?? 5000
    this.maxQueued = options.maxQueued ?? 500_000
    this.timer = setInterval(() => { this.flush().catch(() => {}) }, options.flushMs ?? 1000)
    this.timer.unref()
  }

  play (event: PlayEvent): void {
    this.plays.push(event)
    if (this.plays.length >= this.maxBatch) this.flush().catch(() => {})
  }

  listen (event: ListenEvent): void {
    this.listens.push(event)
    if (this.listens.length >= this.maxBatch) this.flush().catch(() => {})
  }

  /** Write what is waiting; resolves once it (and everything queued before it) is in the database, or was refused. */
  async flush (): Promise<void> {
    this.send()
    await this.queue
  }

  /** Run `work` on the history after every event recorded so far (queued at once, so later events come after it). */
  async after<T> (work: (history: AsyncHistory) => Promise<T>): Promise<T> {
    this.send()
    const result = this.queue.then(async () => await work(this.history))
    this.queue = result.then(() => {}, () => {})
    return await result
  }

  async close (): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
  }

  /** Queue the waiting events as one batch. */
  private send (): void {
    const plays = this.plays
    const listens = this.listens
    if (plays.length === 0 && listens.length === 0) return
    this.plays = []
    this.listens = []
    this.queue = this.queue.then(async () => {
      try {
        await this.history.record(plays, listens)
      } catch (err) {
        this.failures++
        this.keep(plays, listens)
        this.log.error({ err, plays: plays.length, listens: listens.length }, 'the listening history refused a batch; kept to try again')
      }
    })
  }

  private keep (plays: PlayEvent[], listens: ListenEvent[]): void {
    this.plays = plays.concat(this.plays)
    this.listens = listens.concat(this.listens)
    const over = this.plays.length + this.listens.length - this.maxQueued
    if (over > 0) {
      const fromListens = Math.min(over, this.listens.length)
      this.listens.splice(0, fromListens)
      this.plays.splice(0, over - fromListens)
      this.dropped += over
      this.log.warn({ dropped: over }, 'the listening history is still refusing writes; the oldest waiting events were dropped')
    }
  }
}
