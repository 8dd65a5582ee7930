import type { Track as StoredTrack } from '../plugins/app/track-store.js'
import { overallDegradation } from '../lib/track-figures.js'
import type { Track } from '../schemas/track.js'
import { engineIdOf, engineParamsOf } from '../lib/engines/track-render.js'

/** The decay engine fields of a track's replies. */
export function engineOf (track: StoredTrack) {
  return { engine: engineIdOf(track.meta), engine_params: engineParamsOf(track.meta) }
}

/** The audio format fields of a track's replies. */
export function formatOf (track: StoredTrack) {
  const f = track.meta.layout.format
  return { sample_rate: f.sampleRate, channels: f.channels, bits_per_sample: f.bitsPerSample, sample_format: f.encoding }
}

/** A track as `GET /tracks` lists it (and the admin routes return it). */
export function trackSummary (track: StoredTrack, ratePercent: number): Track {
  const m = track.meta
  return {
    filename: m.filename,
    title: m.title,
    duration: m.duration,
    overall_degradation: overallDegradation(m.segment_play_counts, ratePercent),
    total_streams: m.total_streams,
    total_segments: m.total_segments,
    total_plays: track.plays,
    ...engineOf(track),
    ...formatOf(track)
  }
}
