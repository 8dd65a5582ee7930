import { silencedShare } from './dropout.js'
import { DegradationTally } from './degradation-tally.js'

/**
 * The figures /tracks and /stats report, all derived from the play counts
 * by the same model that renders the audio, so they can never disagree.
 */
export function segmentDegradation (counts: readonly number[], ratePercent: number): number[] {
  return counts.map(n => segmentPercent(n, ratePercent))
}

/** Percent of one segment silenced after `plays` plays, to 4 decimals. */
export function segmentPercent (plays: number, ratePercent: number): number {
  return percent(silencedShare(plays, ratePercent))
}

/** Mean over segments of the share silenced, 0–100; the degrader keeps the same figure play by play. */
export function overallDegradation (counts: readonly number[], ratePercent: number): number {
  return new DegradationTally(counts, ratePercent).overall(counts.length)
}

export function sum (counts: readonly number[]): number {
  let total = 0
  for (const n of counts) total += n
  return total
}

function percent (share: number): number {
  return Math.round(share * 100 * 1e4) / 1e4
}
