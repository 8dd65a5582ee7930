import { silencedShare } from './dropout.js'

/**
 * The figures /tracks and /stats report, all derived from the play counts
 * by the same model that renders the audio, so they can never disagree.
 */
export function segmentDegradation (counts: readonly number[], ratePercent: number): number[] {
  return counts.map(n => percent(silencedShare(n, ratePercent)))
}

/** Mean over segments of the share silenced, 0–100. */
export function overallDegradation (counts: readonly number[], ratePercent: number): number {
  if (counts.length === 0) return 0
  let sum = 0
  for (const n of counts) sum += silencedShare(n, ratePercent)
  return percent(sum / counts.length)
}

export function sum (counts: readonly number[]): number {
  let total = 0
  for (const n of counts) total += n
  return total
}

function percent (share: number): number {
  return Math.round(share * 100 * 1e4) / 1e4
}
