import type { WavFormat } from '../wav-format.js'
import type { DecayEngine, EngineParams } from './engine.js'
import { fromPlanes, PlaneArena, toPlanes } from './planar.js'

const arena = new PlaneArena()

/**
 * Where an engine's output meets the file: which frames a play of one
 * segment rewrites, and their bytes.
 *
 * Each segment sounds as its own wear. Where two neighbours' wear differs, the
 * first CROSSFADE_MS of the later one fade from the earlier one's sound to its
 * own (raised cosine), so no count pair ever leaves a step at a boundary.
 * That head depends on both counts: a play of segment k rewrites segment k
 * and the head of k + 1. Engines are position-independent (engine.ts), so
 * with equal wear the two sides join exactly as the pristine audio does.
 */
export const CROSSFADE_MS = 5

export interface EngineTrack {
  format: WavFormat
  /** Frames in the whole track. */
  frames: number
  framesPerSegment: number
  seed: number
  engine: DecayEngine
  params: EngineParams
  /** Wear of segment `index`, 0 to 1. */
  wearOf: (index: number) => number
}

export interface FrameSpan {
  /** First frame written. */
  from: number
  /** One past the last frame written. */
  to: number
  /** First pristine frame the rendering reads (context before `from`). */
  readFrom: number
}

export function crossfadeFrames (track: Pick<EngineTrack, 'format' | 'framesPerSegment'>): number {
  return Math.min(Math.round(CROSSFADE_MS * track.format.sampleRate / 1000), Math.floor(track.framesPerSegment / 2))
}

/** The frames a play of segment `index` rewrites, and the pristine frames it needs. */
export function playSpan (track: EngineTrack, index: number): FrameSpan {
  const start = index * track.framesPerSegment
  const end = Math.min(track.frames, start + track.framesPerSegment)
  const to = Math.min(track.frames, end + crossfadeFrames(track))
  return { from: start, to, readFrom: readFromFor(track, start) }
}

/** The pristine frames needed to render [from, to). */
export function readFromFor (track: EngineTrack, from: number): number {
  return Math.max(0, from - track.engine.preroll(track.format.sampleRate, track.params))
}

/**
 * The bytes of frames [span.from, span.to) as the counts make them sound,
 * from the pristine bytes of frames [span.readFrom, span.to). Frames whose
 * segment has no wear (and no worn neighbour fading in) are the pristine
 * bytes themselves.
 */
export function renderFrames (track: EngineTrack, span: FrameSpan, pristine: Buffer): Buffer {
  const { format, framesPerSegment } = track
  const { blockAlign } = format
  if (pristine.length !== (span.to - span.readFrom) * blockAlign) {
    throw new RangeError(`${pristine.length} pristine bytes for frames [${span.readFrom}, ${span.to})`)
  }
  const out = Buffer.from(pristine.subarray((span.from - span.readFrom) * blockAlign))
  const fade = crossfadeFrames(track)
  arena.reset()
  // What each segment in the span needs: its own sound, and where its wear differs from the previous one's, that one's sound over its head.
  const parts: Array<{ start: number, a: number, b: number, wear: number, before: number, fadeEnd: number }> = []
  const needs: Array<{ wear: number, from: number, to: number }> = []
  for (let index = Math.floor(span.from / framesPerSegment); index * framesPerSegment < span.to; index++) {
    const start = index * framesPerSegment
    const a = Math.max(span.from, start)
    const b = Math.min(span.to, start + framesPerSegment, track.frames)
    const wear = track.wearOf(index)
    const before = index > 0 ? track.wearOf(index - 1) : wear
    const fadeEnd = before === wear ? a : Math.min(b, start + fade)
    if (wear === 0 && fadeEnd <= a) continue
    parts.push({ start, a, b, wear, before, fadeEnd })
    need(needs, wear, a, b)
    if (fadeEnd > a) need(needs, before, a, fadeEnd)
  }
  if (parts.length === 0) return out
  // One engine call per wear and stretch: a segment's sound and its continuation into the next one's head come from one render, one preroll.
  const planes = toPlanes(pristine, format, n => arena.take(n))
  const rendered = track.engine.renderWears !== undefined && needs.length > 1
    ? wetAtWears(track, planes, span.readFrom, needs)
    : needs.map(n => ({ ...n, planes: wetOf(track, planes, span.readFrom, n.from, n.to, n.wear) }))
  const wetAt = (wear: number, a: number, b: number) => {
    const run = rendered.find(r => r.wear === wear && r.from <= a && b <= r.to) as (typeof rendered)[number]
    return run.planes.map(p => p.subarray(a - run.from, b - run.from))
  }
  for (const { start, a, b, wear, before, fadeEnd } of parts) {
    const own = wetAt(wear, a, b)
    if (fadeEnd > a) {
      const previous = wetAt(before, a, fadeEnd)
      const mixed = own.map(o => arena.take(o.length))
      for (let c = 0; c < own.length; c++) {
        const o = own[c] as Float64Array
        const p = previous[c] as Float64Array
        const m = mixed[c] as Float64Array
        m.set(o)
        for (let f = a; f < fadeEnd; f++) {
          const g = 0.5 - 0.5 * Math.cos(Math.PI * (f - start + 0.5) / fade)
          m[f - a] = (p[f - a] as number) * (1 - g) + (o[f - a] as number) * g
        }
      }
      fromPlanes(mixed, format, out, (a - span.from) * blockAlign, 0, b - a)
    } else {
      fromPlanes(own, format, out, (a - span.from) * blockAlign, 0, b - a)
    }
  }
  return out
}

/** Add [from, to) at `wear` to the stretches to render, joined to one it touches. */
function need (needs: Array<{ wear: number, from: number, to: number }>, wear: number, from: number, to: number): void {
  const touching = needs.find(n => n.wear === wear && n.from <= to && from <= n.to)
  if (touching === undefined) {
    needs.push({ wear, from, to })
  } else {
    touching.from = Math.min(touching.from, from)
    touching.to = Math.max(touching.to, to)
  }
}

/** Every wear needed, over the stretch that covers them all, in one call of an engine that renders several at once. */
function wetAtWears (track: EngineTrack, planes: Float64Array[], planesFrom: number, needs: Array<{ wear: number, from: number, to: number }>) {
  const from = Math.min(...needs.map(n => n.from))
  const to = Math.max(...needs.map(n => n.to))
  const worn = [...new Set(needs.map(n => n.wear).filter(w => w > 0))]
  const preroll = Math.min(from - planesFrom, track.engine.preroll(track.format.sampleRate, track.params))
  const channels = planes.map(p => p.subarray(from - preroll - planesFrom, to - planesFrom))
  const outs = worn.map(() => planes.map(() => arena.take(to - from)))
  const input = { channels, preroll, start: from, length: to - from, sampleRate: track.format.sampleRate, seed: track.seed, wear: worn[0] ?? 1 }
  if (worn.length > 0) track.engine.renderWears?.(input, track.params, worn, outs)
  const byWear = new Map(worn.map((w, i) => [w, outs[i] as Float64Array[]]))
  return needs.map(n => ({ wear: n.wear, from, to, planes: byWear.get(n.wear) ?? wetOf(track, planes, planesFrom, from, to, 0) }))
}

/** The engine's output for frames [a, b) at `wear`; 0 is the pristine audio. */
function wetOf (track: EngineTrack, planes: Float64Array[], planesFrom: number, a: number, b: number, wear: number): Float64Array[] {
  if (wear <= 0) {
    return planes.map(p => {
      const copy = arena.take(b - a)
      copy.set(p.subarray(a - planesFrom, b - planesFrom))
      return copy
    })
  }
  const preroll = Math.min(a - planesFrom, track.engine.preroll(track.format.sampleRate, track.params))
  const channels = planes.map(p => p.subarray(a - preroll - planesFrom, b - planesFrom))
  const out = planes.map(() => arena.take(b - a).fill(0))
  track.engine.render({ channels, preroll, start: a, length: b - a, sampleRate: track.format.sampleRate, seed: track.seed, wear }, track.params, out)
  return out
}
