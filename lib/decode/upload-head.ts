import { id3v2Length, PROBE_BYTES } from './detect.js'

/**
 * The start of an upload, gathered until its format can be told: leading
 * ID3v2 tags are dropped as they stream past (cover art can be megabytes; it
 * is never held), then PROBE_BYTES are kept.
 */
export class UploadHead {
  private pending: Buffer[] = []
  private pendingBytes = 0
  private toSkip = 0
  private tagsDone = false

  /** Add a chunk; returns the head (the bytes to decode so far) once it is long enough to tell the format. */
  push (chunk: Buffer): Buffer | undefined {
    const skipped = Math.min(this.toSkip, chunk.length)
    this.toSkip -= skipped
    if (skipped < chunk.length) {
      this.pending.push(chunk.subarray(skipped))
      this.pendingBytes += chunk.length - skipped
    }
    while (!this.tagsDone && this.toSkip === 0) {
      const head = Buffer.concat(this.pending)
      const tag = id3v2Length(head)
      if (tag === undefined) {
        this.pending = [head]
        return undefined
      }
      this.tagsDone = tag === 0
      const kept = head.subarray(Math.min(tag, head.length))
      this.pending = [kept]
      this.pendingBytes = kept.length
      this.toSkip = tag - (head.length - kept.length)
    }
    return this.tagsDone && this.pendingBytes >= PROBE_BYTES ? this.take() : undefined
  }

  /** Whatever has been gathered (at the end of a short input). */
  take (): Buffer {
    const head = Buffer.concat(this.pending)
    this.pending = []
    this.pendingBytes = 0
    return head
  }
}
