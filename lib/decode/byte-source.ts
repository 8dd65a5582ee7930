/**
 * The upload's bytes as they arrive in the worker, read at the decoder's pace.
 * `onTaken` reports every chunk handed on, so the sender can keep only a
 * bounded amount in flight.
 */
export class ByteSource {
  private readonly queue: Uint8Array[] = []
  private current: Uint8Array = new Uint8Array(0)
  private ended = false
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private readonly onTaken: (bytes: number) => void
  private readonly share: number
  private workFrom = performance.now()

  /**
   * `share`: the part of a core the decoder may use. After each chunk the
   * decoder worked on, it waits in proportion, so that a long decode leaves
   * the cores to the event loop that answers plays (the service has few).
   */
  constructor (onTaken: (bytes: number) => void = () => {}, share = 1) {
    this.onTaken = onTaken
    this.share = share
  }

  push (chunk: Uint8Array): void {
    this.queue.push(chunk)
    this.notify()
  }

  end (): void {
    this.ended = true
    this.notify()
  }

  /** Make every pending and future read reject with `err` (a cancelled job). */
  fail (err: Error): void {
    this.failure = err
    this.notify()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** Makes `current` non-empty; false at the end of the input. */
  private async fill (): Promise<boolean> {
    while (this.current.length === 0) {
      if (this.failure !== undefined) throw this.failure
      const next = this.queue.shift()
      if (next !== undefined) {
        await this.pace()
        this.onTaken(next.length)
        this.current = next
        this.workFrom = performance.now()
      } else if (this.ended) {
        return false
      } else {
        const waitFrom = performance.now()
        await new Promise<void>(resolve => { this.wake = resolve })
        // Waiting for the upload is not work.
        this.workFrom += performance.now() - waitFrom
      }
    }
    if (this.failure !== undefined) throw this.failure
    return true
  }

  /** Rest in proportion to the time the decoder worked on the last chunk, scaled by the share it may take. */
  private async pace (): Promise<void> {
    if (this.share >= 1) return
    const rest = (performance.now() - this.workFrom) * (1 - this.share) / this.share
    if (rest >= 1) await new Promise(resolve => setTimeout(resolve, rest))
  }

  /** Up to `max` bytes (at least one), or undefined at the end of the input. */
  async readSome (max = Infinity): Promise<Uint8Array | undefined> {
    if (!await this.fill()) return undefined
    const piece = this.current.subarray(0, max)
    this.current = this.current.subarray(piece.length)
    return piece
  }

  /** Exactly `length` bytes, or fewer when the input ends first. */
  async read (length: number): Promise<Buffer> {
    const pieces: Uint8Array[] = []
    let got = 0
    while (got < length) {
      const piece = await this.readSome(length - got)
      if (piece === undefined) break
      pieces.push(piece)
      got += piece.length
    }
    return Buffer.concat(pieces, got)
  }

  /** Skip `length` bytes; returns how many there were. */
  async skip (length: number): Promise<number> {
    let skipped = 0
    while (skipped < length) {
      const piece = await this.readSome(length - skipped)
      if (piece === undefined) break
      skipped += piece.length
    }
    return skipped
  }

  async * chunks (): AsyncGenerator<Uint8Array> {
    for (let piece = await this.readSome(); piece !== undefined; piece = await this.readSome()) yield piece
  }
}
