import { renderSegment } from '../../lib/render.js'
import { segmentSpan } from '../../lib/wav-format.js'
import type { TrackMetadata } from '../../lib/track-metadata.js'
import type { WavIo } from './wav-io.js'

interface Paths { path: string, pristinePath: string, meta: TrackMetadata }

/**
 * Copy every segment's pristine frames back into the audio, then make it
 * durable. `wrote` hears of every write, for whoever keeps the bytes in memory.
 */
export async function restorePristineAudio (wav: WavIo, track: Paths, wrote: (position: number, data: Buffer) => void = () => {}): Promise<{ size: number, mtimeMs: number, mtime: Date, ino: number }> {
  const [audio, pristine] = await Promise.all([wav.openForUpdate(track.path), wav.openForRead(track.pristinePath)])
  try {
    const m = track.meta
    for (let index = 0; index < m.total_segments; index++) {
      const span = segmentSpan(m.layout, m.segment_duration, index)
      const frames = await wav.readSpan(pristine, span.byteOffset, span.byteLength)
      await wav.writeSpan(audio, span.byteOffset, frames)
      wrote(span.byteOffset, frames)
    }
    await audio.datasync()
    return await audio.stat()
  } finally {
    await Promise.all([audio.close(), pristine.close()])
  }
}

/** How many untouched segments to compare against their rendering to tell our own writes from a hand edit. */
const SAMPLED_SEGMENTS = 3

/**
 * Compare a few segments the journal does not name (`replayed`) with their
 * rendering at the recorded count: a file whose mtime moved while the service
 * was down is ours (a crash mid-write) when they match, a hand edit otherwise.
 */
export async function untouchedSegmentsMatch (wav: WavIo, track: Paths, replayed: Set<number>, ratePercent: number): Promise<boolean> {
  const m = track.meta
  const candidates = [0, Math.floor(m.total_segments / 2), m.total_segments - 1]
    .filter((s, i, all) => s >= 0 && all.indexOf(s) === i && !replayed.has(s))
    .slice(0, SAMPLED_SEGMENTS)
  if (candidates.length === 0) return true
  const [audio, pristine] = await Promise.all([wav.openForRead(track.path), wav.openForRead(track.pristinePath)])
  try {
    for (const index of candidates) {
      const span = segmentSpan(m.layout, m.segment_duration, index)
      const [current, original] = await Promise.all([
        wav.readSpan(audio, span.byteOffset, span.byteLength),
        wav.readSpan(pristine, span.byteOffset, span.byteLength)
      ])
      const expected = renderSegment(original, m.layout.format, {
        seed: m.track_id,
        segmentIndex: index,
        plays: m.segment_play_counts[index] ?? 0,
        baselinePlays: m.baseline_play_counts[index] ?? 0,
        ratePercent
      })
      if (!current.equals(expected)) return false
    }
    return true
  } catch {
    return false
  } finally {
    await Promise.all([audio.close(), pristine.close()])
  }
}
