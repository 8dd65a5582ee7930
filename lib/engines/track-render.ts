import type { TrackMetadata } from '../track-metadata.js'
import { framesPerSegment } from '../wav-format.js'
import { seedOf, wearOf } from './engine.js'
import { DEFAULT_ENGINE, ENGINES, engineInfo } from './index.js'
import type { EngineTrack } from './segment.js'

/** The track's engine id (`dropout` for files written before engines existed). */
export function engineIdOf (meta: Pick<TrackMetadata, 'engine'>): string {
  return meta.engine ?? DEFAULT_ENGINE
}

/** The engine's parameters for this track: its defaults under what the metadata sets. */
export function engineParamsOf (meta: Pick<TrackMetadata, 'engine' | 'engine_params'>): Record<string, number> {
  return { ...engineInfo(engineIdOf(meta))?.defaults, ...meta.engine_params }
}

/**
 * How the track's float engine sees it, wear read live from its counts; or
 * undefined for `dropout`, which renders on the bytes (lib/render.ts).
 */
export function engineTrackOf (meta: TrackMetadata, ratePercent: number, counts: readonly number[] = meta.segment_play_counts): EngineTrack | undefined {
  const engine = ENGINES.get(engineIdOf(meta))
  if (engine === undefined) return undefined
  const { format } = meta.layout
  return {
    format,
    frames: meta.layout.frames,
    framesPerSegment: framesPerSegment(format, meta.segment_duration),
    seed: seedOf(meta.track_id),
    engine,
    params: engineParamsOf(meta),
    wearOf: index => wearOf(counts[index] ?? 0, meta.baseline_play_counts[index] ?? 0, ratePercent)
  }
}
