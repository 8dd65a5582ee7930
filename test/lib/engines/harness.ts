import { createHash } from 'node:crypto'
import type { TObject } from 'typebox'
import type { DecayEngine, EngineParams } from '../../../lib/engines/engine.js'
import { musicLike } from './signal.js'

export interface Span {
  sampleRate: number
  start: number
  length: number
  wear: number
  channels?: number
  seed?: number
  /** Pristine audio for frames [from, from + frames); musicLike by default. */
  source?: (from: number, frames: number) => Float64Array[]
}

/** Render one span the way the segment layer will: pristine context from max(0, start − preroll). */
export function renderSpan<P extends EngineParams> (engine: DecayEngine<P>, params: P, span: Span): { out: Float64Array[], pristine: Float64Array[] } {
  const channels = span.channels ?? 2
  const source = span.source ?? ((from, frames) => musicLike(span.sampleRate, frames, channels, from))
  const preroll = Math.min(span.start, engine.preroll(span.sampleRate, params))
  const input = source(span.start - preroll, preroll + span.length)
  const out = input.map(() => new Float64Array(span.length))
  engine.render({ channels: input, preroll, start: span.start, length: span.length, sampleRate: span.sampleRate, seed: span.seed ?? 0x5eed, wear: span.wear }, params, out)
  return { out, pristine: input.map(plane => plane.subarray(preroll)) }
}

/** SHA-256 of the output rounded to interleaved 16-bit integers: the golden hash. */
export function goldenHash (out: Float64Array[]): string {
  const frames = out[0]?.length ?? 0
  const ints = new Int16Array(frames * out.length)
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < out.length; c++) {
      const v = Math.round((out[c] as Float64Array)[i] as number * 32767)
      ints[i * out.length + c] = Math.max(-32768, Math.min(32767, v))
    }
  }
  return createHash('sha256').update(new Uint8Array(ints.buffer)).digest('hex')
}

/** Largest absolute difference between two renders of the same frames. */
export function maxDifference (a: Float64Array[], b: Float64Array[]): number {
  let worst = 0
  for (let c = 0; c < a.length; c++) {
    const x = a[c] as Float64Array
    const y = b[c] as Float64Array
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)))
  }
  return worst
}

/** Render [start, start + length) in one call and in two calls split at `split`; how far apart they are. */
export function splitDifference<P extends EngineParams> (engine: DecayEngine<P>, params: P, span: Span, split: number): number {
  const whole = renderSpan(engine, params, span).out
  const head = renderSpan(engine, params, { ...span, length: split }).out
  const tail = renderSpan(engine, params, { ...span, start: span.start + split, length: span.length - split }).out
  const joined = head.map((h, c) => {
    const plane = new Float64Array(span.length)
    plane.set(h)
    plane.set(tail[c] as Float64Array, split)
    return plane
  })
  return maxDifference(whole, joined)
}

/** Every property of a params schema has a default, a minimum, a maximum and a description. */
export function undocumentedParams (schema: TObject): string[] {
  return Object.entries(schema.properties as Record<string, object>)
    .filter(([, p]) => ['default', 'minimum', 'maximum', 'description'].some(k => !(k in p)))
    .map(([name]) => name)
}

/** musicLike for frames [0, frames), made once: a source for many renders of the same audio. */
export function musicSource (sampleRate: number, frames: number, channels = 2): (from: number, length: number) => Float64Array[] {
  const planes = musicLike(sampleRate, frames, channels)
  return (from, length) => planes.map(plane => plane.slice(from, from + length))
}
