/**
 * The decay model: which frames of a segment are silent after some plays.
 * Pure and deterministic, so a segment can always be re-rendered from the
 * pristine audio and its play count alone.
 *
 * Silence falls in grains of a few milliseconds (like oxide flaking off
 * tape) rather than on scattered samples, which would sound like crackle.
 */
import { createHash } from 'node:crypto'

export interface DropoutParams {
  /** Identity of the track: two tracks wear differently. */
  seed: string
  segmentIndex: number
  frameCount: number
  sampleRate: number
  /** Silenced share of the segment, 0..1. */
  share: number
}

const MIN_GRAIN_MS = 4
const MAX_GRAIN_MS = 25

export function silencedShare (plays: number, ratePercent: number): number {
  return Math.min(1, Math.max(0, plays * ratePercent / 100))
}

export function silencedFrames (frameCount: number, share: number): number {
  return Math.min(frameCount, Math.max(0, Math.round(share * frameCount)))
}

/** sfc32 seeded from sha256: small, fast and identical on every platform. */
function seededRandom (key: string): () => number {
  const digest = createHash('sha256').update(key).digest()
  let a = digest.readUInt32LE(0)
  let b = digest.readUInt32LE(4)
  let c = digest.readUInt32LE(8)
  let d = digest.readUInt32LE(12)
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  // The first outputs of sfc32 still echo the seed words; discard them.
  for (let i = 0; i < 12; i++) next()
  return next
}

function validate (p: DropoutParams): void {
  if (!Number.isSafeInteger(p.frameCount) || p.frameCount < 0) throw new RangeError(`dropout: frameCount must be a non-negative integer, got ${p.frameCount}`)
  if (!(p.sampleRate > 0) || !Number.isFinite(p.sampleRate)) throw new RangeError(`dropout: sampleRate must be positive, got ${p.sampleRate}`)
  if (!Number.isFinite(p.share)) throw new RangeError(`dropout: share must be a finite number, got ${p.share}`)
}

/** Silent runs as [start, end) pairs, unordered. */
export function silentRuns (p: DropoutParams): Array<[number, number]> {
  validate(p)
  let remaining = silencedFrames(p.frameCount, p.share)
  if (remaining === 0) return []
  if (remaining === p.frameCount) return [[0, p.frameCount]]

  const random = seededRandom(`${p.seed}:${p.segmentIndex}`)
  const minLength = Math.max(1, Math.round(MIN_GRAIN_MS * p.sampleRate / 1000))
  const starts: number[] = []
  const ends: number[] = []
  for (let start = 0; start < p.frameCount;) {
    const ms = MIN_GRAIN_MS + random() * (MAX_GRAIN_MS - MIN_GRAIN_MS)
    let end = start + Math.max(minLength, Math.round(ms * p.sampleRate / 1000))
    // A sliver left at the end would become a crackle-length grain: absorb it.
    if (p.frameCount - end < minLength) end = p.frameCount
    starts.push(start)
    ends.push(end)
    start = end
  }

  const order = starts.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const swap = order[i] as number
    order[i] = order[j] as number
    order[j] = swap
  }

  const silenced = new Uint8Array(order.length)
  const runs: Array<[number, number]> = []
  for (const grain of order) {
    const start = starts[grain] as number
    const end = ends[grain] as number
    if (remaining >= end - start) {
      runs.push([start, end])
      silenced[grain] = 1
      remaining -= end - start
      if (remaining === 0) break
      continue
    }
    // Grow the partial grain out of a silent neighbour when there is one, so it
    // lengthens a gap instead of opening a tiny new one. Which neighbours are
    // silent depends only on the grains ahead in the order, never on the share,
    // so the grain always grows from the same end and the mask stays monotone.
    const rightOnly = silenced[grain + 1] === 1 && silenced[grain - 1] !== 1
    runs.push(rightOnly ? [end - remaining, end] : [start, start + remaining])
    break
  }
  return runs
}

/** 1 marks a silenced frame. */
export function dropoutMask (p: DropoutParams): Uint8Array {
  const runs = silentRuns(p)
  const mask = new Uint8Array(p.frameCount)
  for (const [start, end] of runs) mask.fill(1, start, end)
  return mask
}

/**
 * Per-frame gain: exactly 0 on silenced frames, and a raised-cosine ramp of
 * `fadeMs` on the audible frames bordering each gap so the cut does not
 * click. Ramps stay outside the gaps, so the silenced share remains exact.
 */
export function dropoutGains (p: DropoutParams, fadeMs = 2): Float32Array {
  const mask = dropoutMask(p)
  const n = mask.length
  const gains = new Float32Array(n)
  const silent = silencedFrames(n, p.share)
  if (silent === 0) return gains.fill(1)
  if (silent === n) return gains

  const rampLength = Math.max(0, Math.round(fadeMs * p.sampleRate / 1000))
  const ramp = new Float32Array(rampLength)
  for (let d = 1; d <= rampLength; d++) ramp[d - 1] = 0.5 - 0.5 * Math.cos(Math.PI * d / (rampLength + 1))

  // Two sweeps give each audible frame its distance to the nearest gap; the
  // ramp rises with distance, so the nearer gap's value is the minimum gain.
  let distance = Infinity
  for (let i = 0; i < n; i++) {
    if (mask[i] === 1) {
      distance = 0
      continue
    }
    distance++
    gains[i] = distance <= rampLength ? ramp[distance - 1] as number : 1
  }
  distance = Infinity
  for (let i = n - 1; i >= 0; i--) {
    if (mask[i] === 1) {
      distance = 0
      continue
    }
    distance++
    if (distance <= rampLength) gains[i] = Math.min(gains[i] as number, ramp[distance - 1] as number)
  }
  return gains
}

/**
 * The fewest plays that silence `silent` of `frameCount` frames: the inverse
 * of the model, for recovering counts from the audio when metadata is lost.
 */
export function playsForSilencedFrames (silent: number, frameCount: number, ratePercent: number): number {
  if (silent <= 0 || ratePercent <= 0 || frameCount <= 0) return 0
  // Rounding means round(share × frames) reaches `silent` from (silent - 0.5) / frames on: start just below that.
  let plays = Math.max(0, Math.floor((silent - 0.5) / frameCount * 100 / ratePercent) - 1)
  while (silencedFrames(frameCount, silencedShare(plays, ratePercent)) < silent && silencedShare(plays, ratePercent) < 1) plays++
  return plays
}
