import { Type } from 'typebox'
import { fadeOut, noiseAt, type DecayEngine, type EngineInput } from './engine.js'

/**
 * Wow and flutter: the playback speed wobbles slowly (wow) and quickly
 * (flutter), more with every play. The pristine signal is read at p − d(p)
 * with a bounded delay d(p) ∈ [0, maxDelay], so a segment keeps its length
 * and timing; d is built from LFOs whose phase is a function of the absolute
 * frame and the seed, so any span renders the same wherever a call starts.
 *
 * The wobbling copy y is blended with the pristine x, out = g·((1 − m)·x + m·y),
 * m rising to `mix` ≤ ½ by the start of the fade. Why not y alone: a wobble of
 * a millisecond already decorrelates cymbals and upper harmonics, so E|y − x|²
 * nears 2·E|x|², and the fade to silence (E|0 − x|² = E|x|²) would then make
 * the difference from the pristine audio fall as wear rises. With m ≤ ½ the
 * difference m²·E|y − x|² stays below E|x|², and fading v = (1 − m)·x + m·y
 * toward silence never brings it closer to x: E[x·v] − E[v²] = m(1 − 2m)(1 − ρ)
 * ≥ 0 for any correlation ρ of x and y. Two copies of a tape, one of them
 * wobbling, is also how a worn deck flanges.
 */
export const WowParamsSchema = Type.Object({
  wowHz: Type.Number({ default: 0.8, minimum: 0.5, maximum: 3, description: 'Mean rate of the slow pitch wobble (wow), in Hz.' }),
  flutterHz: Type.Number({ default: 9, minimum: 5, maximum: 15, description: 'Mean rate of the fast pitch wobble (flutter), in Hz.' }),
  wowCents: Type.Number({ default: 8, minimum: 0, maximum: 50, description: 'Peak pitch deviation of the wow at full wear, in cents.' }),
  flutterCents: Type.Number({ default: 4, minimum: 0, maximum: 25, description: 'Peak pitch deviation of the flutter at full wear, in cents.' }),
  drift: Type.Number({ default: 0.2, minimum: 0, maximum: 0.5, description: 'How far each wobble rate wanders around its mean, as a fraction of it.' }),
  mix: Type.Number({ default: 0.45, minimum: 0, maximum: 0.5, description: 'Share of the wobbling copy in the output once worn (from 80 % wear); at most one half, so the sound never drifts further from the original than silence would.' })
})

export interface WowParams {
  wowHz: number
  flutterHz: number
  wowCents: number
  flutterCents: number
  drift: number
  mix: number
  [name: string]: number
}

export const wowDefaults: WowParams = { wowHz: 0.8, flutterHz: 9, wowCents: 8, flutterCents: 4, drift: 0.2, mix: 0.45 }

/** Wear at which the blend reaches `mix` and the fade to silence starts (fadeOut's default). */
const FADE_FROM = 0.8

/** Share m of the wobbling copy at this wear: rising linearly to `mix` at FADE_FROM. */
export function wowBlend (wear: number, params: WowParams): number {
  return params.mix * Math.min(1, wear / FADE_FROM)
}

/** The delay curve is computed on this grid of absolute frames and interpolated between: 8 sines per node, not per frame. */
const GRID = 16
/** Drift sines per LFO, at these multiples of its rate (incommensurate, so the wander never repeats audibly). */
const DRIFT_MULTIPLES = [0.05, 0.09, 0.17]

/** Peak speed deviation |d'(p)| of one LFO at this wear: its cents spread linearly over wear. */
function speedDeviation (cents: number, wear: number): number {
  return wear * (2 ** (cents / 1200) - 1)
}

/**
 * The engine's measure: peak pitch deviation in cents,
 * 1200·log2(1 + r_wow + r_flutter) with r = wear·(2^(cents/1200) − 1) per LFO,
 * the bound on the playback speed 1 − d'(p).
 */
export function wowPeakCents (wear: number, params: WowParams): number {
  return 1200 * Math.log2(1 + speedDeviation(params.wowCents, wear) + speedDeviation(params.flutterCents, wear))
}

/** Delay amplitude in frames that gives speed deviation r at an LFO's fastest instantaneous rate. */
function amplitude (r: number, hz: number, drift: number, sampleRate: number): number {
  return r * sampleRate / (2 * Math.PI * hz * (1 + drift))
}

/** Largest delay d(p) in frames at this wear: both LFOs at their crest, 2·(A_wow + A_flutter). */
export function wowMaxDelay (wear: number, params: WowParams, sampleRate: number): number {
  const w = amplitude(speedDeviation(params.wowCents, wear), params.wowHz, params.drift, sampleRate)
  const f = amplitude(speedDeviation(params.flutterCents, wear), params.flutterHz, params.drift, sampleRate)
  return 2 * (w + f)
}

/** 1 + sin of an LFO's phase at absolute frame p: rate `hz` wandering by `drift`, phases from the seed. */
function lfo (seed: number, stream: number, hz: number, drift: number, p: number, sampleRate: number): number {
  const t = p / sampleRate
  let phase = 2 * Math.PI * hz * t + Math.PI * noiseAt(seed, stream, 0)
  for (let j = 0; j < DRIFT_MULTIPLES.length; j++) {
    const m = DRIFT_MULTIPLES[j] as number
    // β·g summed over the drift sines is drift·hz: the instantaneous rate stays within hz·(1 ± drift).
    phase += drift / (DRIFT_MULTIPLES.length * m) * Math.sin(2 * Math.PI * hz * m * t + Math.PI * noiseAt(seed, stream, j + 1))
  }
  return 1 + Math.sin(phase)
}

// Scratch for one render's delay curve, grown when needed and reused: no allocation per call in steady use.
let nodes = new Float64Array(0)
let whole = new Int32Array(0)
let weights = new Float64Array(0)

function grow (length: number, nodeCount: number): void {
  if (nodes.length < nodeCount) nodes = new Float64Array(nodeCount)
  if (whole.length < length) {
    whole = new Int32Array(length)
    weights = new Float64Array(length * 4)
  }
}

/** Fill `whole` (integer delay) and `weights` (Catmull-Rom taps) for every output frame. */
function delayCurve (input: EngineInput, params: WowParams): void {
  const { start, length, sampleRate, seed, wear } = input
  const aWow = amplitude(speedDeviation(params.wowCents, wear), params.wowHz, params.drift, sampleRate)
  const aFlutter = amplitude(speedDeviation(params.flutterCents, wear), params.flutterHz, params.drift, sampleRate)
  const maxDelay = 2 * (aWow + aFlutter)
  // Nodes n−1 … n+2 around every frame, n = floor(p / GRID), all at absolute multiples of GRID.
  const first = Math.floor(start / GRID) - 1
  const count = Math.floor((start + length - 1) / GRID) - first + 3
  grow(length, count)
  for (let k = 0; k < count; k++) {
    const p = (first + k) * GRID
    nodes[k] = aWow * lfo(seed, 0, params.wowHz, params.drift, p, sampleRate) +
      aFlutter * lfo(seed, 1, params.flutterHz, params.drift, p, sampleRate)
  }
  for (let i = 0; i < length; i++) {
    const p = start + i
    const n = Math.floor(p / GRID)
    const k = n - first
    const u = (p - n * GRID) / GRID
    const d0 = nodes[k - 1] as number
    const d1 = nodes[k] as number
    const d2 = nodes[k + 1] as number
    const d3 = nodes[k + 2] as number
    let d = d1 + 0.5 * u * (d2 - d0 + u * (2 * d0 - 5 * d1 + 4 * d2 - d3 + u * (3 * (d1 - d2) + d3 - d0)))
    // Catmull-Rom may overshoot the nodes a hair: keep the promise d ∈ [0, maxDelay].
    if (d < 0) d = 0
    else if (d > maxDelay) d = maxDelay
    const di = Math.floor(d)
    // Reading at p − d lies between frames p − di − 1 and p − di, t of the way from the first.
    const t = 1 - (d - di)
    whole[i] = di
    const t2 = t * t
    const t3 = t2 * t
    weights[4 * i] = 0.5 * (-t3 + 2 * t2 - t)
    weights[4 * i + 1] = 0.5 * (3 * t3 - 5 * t2 + 2)
    weights[4 * i + 2] = 0.5 * (-3 * t3 + 4 * t2 + t)
    weights[4 * i + 3] = 0.5 * (t3 - t2)
  }
}

function render (input: EngineInput, params: WowParams, out: Float64Array[]): void {
  const gain = fadeOut(input.wear, FADE_FROM)
  if (gain === 0) {
    for (const plane of out) plane.fill(0)
    return
  }
  delayCurve(input, params)
  const { length, preroll } = input
  const wet = gain * wowBlend(input.wear, params)
  const dry = gain - wet
  for (let c = 0; c < out.length; c++) {
    const x = input.channels[c] as Float64Array
    const y = out[c] as Float64Array
    for (let i = 0; i < length; i++) {
      const now = preroll + i
      const j = now - (whole[i] as number)
      // Taps j−2 … j+1. Before the track's first frame there is silence; a tap after frame p
      // (only when d < 1) reads frame p, so the output never looks ahead of its own frame.
      const a = j - 2 >= 0 ? x[j - 2] as number : 0
      const b = j - 1 >= 0 ? x[j - 1] as number : 0
      const c2 = j >= 0 ? x[j] as number : 0
      const e = j + 1 <= now ? (j + 1 >= 0 ? x[j + 1] as number : 0) : x[now] as number
      const w = 4 * i
      y[i] = dry * (x[now] as number) + wet * ((weights[w] as number) * a + (weights[w + 1] as number) * b +
        (weights[w + 2] as number) * c2 + (weights[w + 3] as number) * e)
    }
  }
}

export const wow: DecayEngine<WowParams> = {
  id: 'wow',
  name: 'Wow and flutter',
  description: 'The pitch wobbles like a stretched tape on an old deck: a slow drifting wow and a quick flutter that deepen with every play, flanging against the original, until the sound fades away.',
  version: 1,
  params: WowParamsSchema,
  defaults: wowDefaults,
  measure: 'Peak pitch deviation in cents, 1200·log2(1 + r_wow + r_flutter) with r = wear·(2^(cents/1200) − 1) for each LFO (wowPeakCents), of the wobbling copy, whose share in the output also rises with wear (wowBlend).',
  // Taps reach two frames before the longest delay; one more for rounding.
  preroll: (sampleRate, params) => Math.ceil(wowMaxDelay(1, params, sampleRate)) + 3,
  render
}
