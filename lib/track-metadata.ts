import { randomUUID } from 'node:crypto'
import type { WavLayout } from './wav-format.js'

/**
 * A track's metadata file. The first eight fields are the Flask service's,
 * kept byte-compatible so a deployment can switch over and back; the rest
 * are ours.
 */
export interface TrackMetadata {
  filename: string
  title: string
  duration: number
  segment_duration: number
  total_segments: number
  segment_play_counts: number[]
  created_at: string
  total_streams: number
  /** Seeds the dropout pattern and names the track in ETags; new when the audio is replaced. */
  track_id: string
  /** Counts adopted from the Flask service: its damage is the baseline we degrade from. */
  baseline_play_counts: number[]
  /** What the file looked like when the metadata was last made durable (ino: which file it was). */
  file: { size: number, mtime_ms: number, ino?: number }
  layout: WavLayout
  updated_at: string
  metadata_version: 2
  /** How the track decays (lib/engines); absent in older files and the Flask service's: `dropout`. */
  engine?: string
  /** The engine's parameters, defaults filled in; absent: the engine's defaults. */
  engine_params?: Record<string, number>
  /** Set while a whole-track change (a reset, or its roll-back) renders the audio from the pristine copy at these counts; a restart finishes it. */
  reset_pending?: true
}

export type MetadataStatus = 'ours' | 'flask' | 'invalid'

/** Tell our files from the Flask service's from something else entirely. */
export function classifyMetadata (value: unknown): MetadataStatus {
  if (typeof value !== 'object' || value === null) return 'invalid'
  const v = value as Record<string, unknown>
  if (!Array.isArray(v.segment_play_counts) || !v.segment_play_counts.every(isCount)) return 'invalid'
  if (v.metadata_version === 2 && typeof v.track_id === 'string' && typeof v.layout === 'object' && v.layout !== null) return 'ours'
  return 'flask'
}

function isCount (n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0
}

interface NewTrack {
  filename: string
  title: string
  layout: WavLayout
  segmentDuration: number
  totalSegments: number
  file: { size: number, mtime_ms: number, ino?: number }
  /** The decay engine and its parameters; `dropout` (the default) is not written, as before engines. */
  engine?: string
  engineParams?: Record<string, number>
}

export function freshMetadata (t: NewTrack, now = new Date()): TrackMetadata {
  return {
    filename: t.filename,
    title: t.title,
    duration: round6(t.layout.frames / t.layout.format.sampleRate),
    segment_duration: t.segmentDuration,
    total_segments: t.totalSegments,
    segment_play_counts: new Array<number>(t.totalSegments).fill(0),
    created_at: now.toISOString(),
    total_streams: 0,
    track_id: randomUUID(),
    baseline_play_counts: new Array<number>(t.totalSegments).fill(0),
    file: t.file,
    layout: t.layout,
    updated_at: now.toISOString(),
    metadata_version: 2,
    ...(t.engine === undefined || t.engine === 'dropout' ? {} : { engine: t.engine, engine_params: t.engineParams ?? {} })
  }
}

/**
 * Take over a Flask metadata file: its counts, streams and creation time stay;
 * the audio as it is becomes the baseline further plays degrade from.
 */
export function adoptFlaskMetadata (legacy: Record<string, unknown>, t: NewTrack, now = new Date()): TrackMetadata {
  const fresh = freshMetadata(t, now)
  const counts = fitLength((legacy.segment_play_counts as number[]), t.totalSegments)
  const createdAt = typeof legacy.created_at === 'string' && !Number.isNaN(Date.parse(legacy.created_at))
    ? legacy.created_at
    : fresh.created_at
  const streams = isCount(legacy.total_streams) ? legacy.total_streams : 0
  return { ...fresh, segment_play_counts: counts, baseline_play_counts: [...counts], created_at: createdAt, total_streams: streams }
}

/** Pad with zeros or cut, for a file whose segment count was computed differently. */
export function fitLength (counts: number[], length: number): number[] {
  const out = counts.slice(0, length)
  while (out.length < length) out.push(0)
  return out
}

function round6 (n: number): number {
  return Math.round(n * 1e6) / 1e6
}
