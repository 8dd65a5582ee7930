import { silencedShare } from './dropout.js'

/**
 * The sum over segments of the share silenced, kept as two integers: plays on
 * segments not yet fully silent, and segments fully silent. A play updates it
 * in O(1), so reporting a track's overall degradation after every play costs
 * the same on a one-hour track as on a one-minute one. Whether it is built at
 * once or updated play by play, the figure is the same float.
 */
export class DegradationTally {
  private partialPlays = 0
  private silentSegments = 0

  readonly ratePercent: number

  constructor (counts: readonly number[], ratePercent: number) {
    this.ratePercent = ratePercent
    for (const n of counts) this.add(n, 1)
  }

  /** One segment's count went from `before` to `after`. */
  update (before: number, after: number): void {
    this.add(before, -1)
    this.add(after, 1)
  }

  /** Mean over `segments` segments of the share silenced, in percent to 4 decimals (as overallDegradation). */
  overall (segments: number): number {
    if (segments === 0) return 0
    const share = (this.partialPlays * this.ratePercent / 100 + this.silentSegments) / segments
    return Math.round(share * 100 * 1e4) / 1e4
  }

  private add (count: number, sign: 1 | -1): void {
    if (silencedShare(count, this.ratePercent) >= 1) this.silentSegments += sign
    else if (count > 0) this.partialPlays += sign * count
  }
}
