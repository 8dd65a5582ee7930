import type { TObject } from 'typebox'

/**
 * A decay engine: how a segment sounds after its plays. Engines work on
 * planar float samples in [-1, 1] and know nothing of WAV formats, files or
 * HTTP; lib/engines/segment.ts turns their output into a segment's bytes.
 *
 * The output for an absolute frame p is a pure function of the pristine
 * samples up to p (at most `preroll` frames before the span rendered), the
 * wear, the track's seed and the parameters: never of where a render call
 * starts. Noise and modulation are therefore indexed by absolute frame, and
 * filters settle over the preroll. So two neighbouring segments at the same
 * wear join without a seam, and the segment layer only has to cross-fade
 * where their wear differs.
 */
export interface DecayEngine<P extends EngineParams = EngineParams> {
  /** The API id: `tape`, `wow`, … */
  readonly id: string
  readonly name: string
  /** What it sounds like, for the artist. */
  readonly description: string
  /** Bumped whenever the rendered bytes change: part of ETags and golden hashes. */
  readonly version: number
  /** TypeBox schema of the parameters: every property has a default, a minimum and a maximum. */
  readonly params: TObject
  readonly defaults: P
  /** The engine's own measure of wear, in words (what its tests check rises with wear). */
  readonly measure: string
  /** Frames of pristine context needed before the first output frame. */
  preroll: (sampleRate: number, params: P) => number
  /**
   * Write output frames [input.start, input.start + input.length) of every
   * channel into `out` (one array of `input.length` per channel). Called only
   * with 0 < wear ≤ 1; at wear 1 every output sample must be exactly 0.
   */
  render: (input: EngineInput, params: P, out: Float64Array[]) => void
  /**
   * Optional: `render` at several wears over the same frames (outs[w] for
   * wears[w]), for an engine whose costly part does not depend on the wear.
   * Must give what `render` gives at each wear.
   */
  renderWears?: (input: EngineInput, params: P, wears: readonly number[], outs: Float64Array[][]) => void
}

export type EngineParams = Record<string, number>

export interface EngineInput {
  /**
   * Pristine samples per channel covering frames
   * [start - preroll, start + length): index `preroll + i` is output frame i.
   */
  readonly channels: Float64Array[]
  /** Frames of context before the output; less than asked at the start of a track. */
  readonly preroll: number
  /** Absolute frame index (from the track's first frame) of the first output frame. */
  readonly start: number
  readonly length: number
  readonly sampleRate: number
  /** 32-bit seed derived from the track's identity. */
  readonly seed: number
  /** 0 < wear ≤ 1: min(1, plays × DEGRADATION_RATE / 100). */
  readonly wear: number
}

/** w(n) = min(1, n · rate / 100): the same wear for every engine; plays already in the pristine copy do not count. */
export function wearOf (plays: number, baselinePlays: number, ratePercent: number): number {
  const n = Math.max(0, plays - baselinePlays)
  return Math.min(1, (n * ratePercent) / 100)
}

/** A 32-bit seed from a track id (FNV-1a). */
export function seedOf (trackId: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < trackId.length; i++) {
    h ^= trackId.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * Deterministic white noise in [-1, 1) for (seed, stream, frame): a hash,
 * not a generator, so any frame's value is known without rendering the
 * frames before it. `stream` keeps channels and uses apart.
 */
export function noiseAt (seed: number, stream: number, frame: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0
  h = Math.imul(h ^ (frame >>> 0), 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h ^ Math.floor(frame / 4294967296), 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x27d4eb2f)
  h ^= h >>> 15
  return (h >>> 0) / 2147483648 - 1
}

/**
 * The level every engine ends with: 1 until `from` wear, then a raised-cosine
 * fall to exactly 0 at full wear, so every engine ends in digital silence.
 */
export function fadeOut (wear: number, from = 0.8): number {
  if (wear <= from) return 1
  if (wear >= 1) return 0
  return 0.5 + 0.5 * Math.cos(Math.PI * (wear - from) / (1 - from))
}
