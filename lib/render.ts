import { dropoutGains, silencedShare } from './dropout.js'
import { applyGains } from './pcm.js'
import type { WavFormat } from './wav-format.js'

export interface SegmentRender {
  /** The track's identity: seeds the dropout pattern. */
  seed: string
  segmentIndex: number
  /** Plays recorded for the segment. */
  plays: number
  /** Plays already in the pristine copy (adopted from the Flask service); only later plays degrade it further. */
  baselinePlays: number
  ratePercent: number
}

/**
 * A segment's audio after `plays` plays, from its pristine frames. A pure
 * function of its inputs: rendering twice gives the same bytes, so a write
 * interrupted by a crash is repaired by rendering again.
 */
export function renderSegment (pristine: Buffer, format: WavFormat, r: SegmentRender): Buffer {
  const out = Buffer.from(pristine)
  const share = silencedShare(r.plays - r.baselinePlays, r.ratePercent)
  if (share <= 0) return out
  const gains = dropoutGains({
    seed: r.seed,
    segmentIndex: r.segmentIndex,
    frameCount: Math.floor(pristine.length / format.blockAlign),
    sampleRate: format.sampleRate,
    share
  })
  applyGains(out, format, gains)
  return out
}
