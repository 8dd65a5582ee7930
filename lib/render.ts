import { silencedShare, silentRuns } from './dropout.js'
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

/** dropoutGains' default fade: the rendered bytes must stay those of dropoutGains + applyGains. */
const FADE_MS = 2
const NO_GAINS = new Float32Array(0)
const ramps = new Map<number, Float32Array>()
let scratch = new Float32Array(256)

/**
 * A segment's audio after `plays` plays, from its pristine frames. A pure
 * function of its inputs: rendering twice gives the same bytes, so a write
 * interrupted by a crash is repaired by rendering again.
 */
export function renderSegment (pristine: Buffer, format: WavFormat, r: SegmentRender): Buffer {
  const out = Buffer.from(pristine)
  renderInPlace(out, format, r)
  return out
}

/**
 * renderSegment on the caller's copy of the pristine frames. The bytes are
 * exactly those of `applyGains(frames, format, dropoutGains(...))`, but the
 * work is proportional to the gaps and their fades rather than to every
 * frame of the segment several times over: the play path renders one
 * segment per request, and the per-frame passes were its largest cost.
 */
export function renderInPlace (frames: Buffer, format: WavFormat, r: SegmentRender): void {
  const { blockAlign, sampleRate } = format
  if (frames.length % blockAlign !== 0) {
    throw new RangeError(`${frames.length} bytes is not a whole number of ${blockAlign}-byte frames`)
  }
  // An unsupported sample format throws here, as applyGains would on the whole segment.
  applyGains(frames.subarray(0, 0), format, NO_GAINS)
  const share = silencedShare(r.plays - r.baselinePlays, r.ratePercent)
  if (share <= 0) return
  const frameCount = frames.length / blockAlign
  const runs = silentRuns({ seed: r.seed, segmentIndex: r.segmentIndex, frameCount, sampleRate, share })
  if (runs.length === 0) return
  runs.sort((a, b) => a[0] - b[0])
  // Unsigned 8-bit centres on 0x80; every other format's silence is all zero bytes (+0.0 for floats).
  const silence = format.encoding === 'int' && format.bitsPerSample === 8 ? 0x80 : 0
  const ramp = rampOf(sampleRate)

  // Walk the gaps (touching runs merged) and the audible stretches between them.
  let audibleFrom = 0
  let i = 0
  while (i < runs.length) {
    const gapStart = (runs[i] as [number, number])[0]
    let gapEnd = (runs[i] as [number, number])[1]
    while (++i < runs.length && (runs[i] as [number, number])[0] <= gapEnd) gapEnd = Math.max(gapEnd, (runs[i] as [number, number])[1])
    fade(frames, format, ramp, audibleFrom, gapStart, audibleFrom > 0, true)
    frames.fill(silence, gapStart * blockAlign, gapEnd * blockAlign)
    audibleFrom = gapEnd
  }
  fade(frames, format, ramp, audibleFrom, frameCount, true, false)
}

/**
 * The raised-cosine ramps of the audible frames [from, to) next to a gap on
 * the left and/or the right: dropoutGains' gain for a frame at distance d
 * from the nearest gap is ramp[d - 1], the smaller of the two when both are near.
 */
function fade (frames: Buffer, format: WavFormat, ramp: Float32Array, from: number, to: number, gapBefore: boolean, gapAfter: boolean): void {
  const length = ramp.length
  if (length === 0 || from >= to) return
  if (gapBefore && gapAfter && to - from <= 2 * length) {
    scale(frames, format, ramp, from, to, from, to)
    return
  }
  if (gapBefore) scale(frames, format, ramp, from, Math.min(to, from + length), from, Infinity)
  if (gapAfter) scale(frames, format, ramp, Math.max(from, to - length), to, -Infinity, to)
}

/** Frames [start, end) scaled by the ramp from the gap ending at `leftGapEnd` and the one starting at `rightGapStart`. */
function scale (frames: Buffer, format: WavFormat, ramp: Float32Array, start: number, end: number, leftGapEnd: number, rightGapStart: number): void {
  const count = end - start
  if (scratch.length < count) scratch = new Float32Array(count)
  const gains = scratch.subarray(0, count)
  const length = ramp.length
  for (let f = start; f < end; f++) {
    const fromLeft = f - leftGapEnd + 1
    const fromRight = rightGapStart - f
    const left = fromLeft <= length ? ramp[fromLeft - 1] as number : 1
    const right = fromRight <= length ? ramp[fromRight - 1] as number : 1
    gains[f - start] = Math.min(left, right)
  }
  applyGains(frames.subarray(start * format.blockAlign, end * format.blockAlign), format, gains)
}

/** The fade-in ramp, rounded to float32 exactly as dropoutGains stores it. */
function rampOf (sampleRate: number): Float32Array {
  const length = Math.max(0, Math.round(FADE_MS * sampleRate / 1000))
  let ramp = ramps.get(length)
  if (ramp === undefined) {
    ramp = new Float32Array(length)
    for (let d = 1; d <= length; d++) ramp[d - 1] = 0.5 - 0.5 * Math.cos(Math.PI * d / (length + 1))
    ramps.set(length, ramp)
  }
  return ramp
}
