import type { FileHandle } from 'node:fs/promises'
import { renderSegment } from '../../lib/render.js'
import { segmentSpan } from '../../lib/wav-format.js'
import type { TrackMetadata } from '../../lib/track-metadata.js'
import { crossfadeFrames, readFromFor, renderFrames } from '../../lib/engines/segment.js'
import { engineTrackOf } from '../../lib/engines/track-render.js'
import type { WavIo } from './wav-io.js'

interface Paths { path: string, pristinePath: string, meta: TrackMetadata }

/** The audio file is no longer the file this identity was made for. */
export class FileReplaced extends Error {}

/**
 * Render every segment from the pristine copy at its recorded count and
 * write it into the audio, then make it durable: what a reset does (counts
 * back to the baseline give the pristine audio), and how an interrupted one is
 * finished or rolled back. `inode`, when given, must be the audio's: a file
 * replaced meanwhile is never written. `wrote` hears of every write, for
 * whoever keeps the bytes in memory.
 */
export async function renderWholeTrack (wav: WavIo, track: Paths, ratePercent: number, inode?: { dev: number, ino: number }, wrote: (position: number, data: Buffer) => void = () => {}): Promise<{ size: number, mtimeMs: number, mtime: Date, ino: number }> {
  const [audio, pristine] = await Promise.all([wav.openForUpdate(track.path), wav.openForRead(track.pristinePath)])
  try {
    const opened = await audio.stat()
    if (inode !== undefined && (opened.ino !== inode.ino || opened.dev !== inode.dev)) throw new FileReplaced(`${track.path} was replaced`)
    const m = track.meta
    for (let index = 0; index < m.total_segments; index++) {
      const span = segmentSpan(m.layout, m.segment_duration, index)
      const frames = await renderedSegment(wav, pristine, m, index, m.segment_play_counts, ratePercent)
      await wav.writeSpan(audio, span.byteOffset, frames)
      wrote(span.byteOffset, frames)
    }
    await audio.datasync()
    return await audio.stat()
  } finally {
    await Promise.all([audio.close(), pristine.close()])
  }
}

/**
 * Segment `index`'s bytes at `counts`, from the pristine copy: `dropout`
 * from the segment alone; a float engine also reads the context before it,
 * and its head depends on the previous segment's count (the cross-fade).
 */
export async function renderedSegment (wav: WavIo, pristine: FileHandle, m: TrackMetadata, index: number, counts: readonly number[], ratePercent: number): Promise<Buffer> {
  const span = segmentSpan(m.layout, m.segment_duration, index)
  const engineTrack = engineTrackOf(m, ratePercent, counts)
  if (engineTrack === undefined) {
    const original = await wav.readSpan(pristine, span.byteOffset, span.byteLength)
    return renderSegment(original, m.layout.format, {
      seed: m.track_id, segmentIndex: index, plays: counts[index] ?? 0, baselinePlays: m.baseline_play_counts[index] ?? 0, ratePercent
    })
  }
  const { blockAlign } = m.layout.format
  const frames = { from: span.firstFrame, to: span.firstFrame + span.frameCount, readFrom: readFromFor(engineTrack, span.firstFrame) }
  const source = await wav.readSpan(pristine, m.layout.dataOffset + frames.readFrom * blockAlign, (frames.to - frames.readFrom) * blockAlign)
  return renderFrames(engineTrack, frames, source)
}

/** How many untouched segments to compare against their rendering to tell our own writes from a hand edit. */
const SAMPLED_SEGMENTS = 3
/** A write cut short by a crash leaves whole pages of the old rendering or the new one. */
const PAGE = 4096
/** Counts tried per page for a segment the journal replays; past this, only its two ends. */
const MAX_COUNTS_TRIED = 64

/**
 * Whether a file whose mtime moved while the service was down holds our own
 * writes (a crash mid-write) rather than a hand edit: a few segments the
 * journal does not name (`replayed`, segment → the count it replays) must
 * equal their rendering at the recorded count. When the journal names every
 * segment, each page of a few of them must equal that page rendered at some
 * count between the recorded one and the journal's.
 */
export async function untouchedSegmentsMatch (wav: WavIo, track: Paths, replayed: Map<number, number>, ratePercent: number): Promise<boolean> {
  const m = track.meta
  const untouched: number[] = []
  for (const s of spread(m.total_segments)) if (!replayed.has(s) && untouched.length < SAMPLED_SEGMENTS) untouched.push(s)
  const sampled = untouched.length > 0 ? untouched : spread(m.total_segments).slice(0, SAMPLED_SEGMENTS)
  const [audio, pristine] = await Promise.all([wav.openForRead(track.path), wav.openForRead(track.pristinePath)])
  try {
    for (const index of sampled) {
      const span = segmentSpan(m.layout, m.segment_duration, index)
      const current = await wav.readSpan(audio, span.byteOffset, span.byteLength)
      const candidates = (segment: number) => {
        const recorded = m.segment_play_counts[segment] ?? 0
        const highest = Math.max(recorded, replayed.get(segment) ?? recorded)
        return highest - recorded < MAX_COUNTS_TRIED
          ? Array.from({ length: highest - recorded + 1 }, (_, i) => recorded + i)
          : [recorded, highest]
      }
      const renderings: Buffer[] = []
      for (const count of candidates(index)) {
        const counts = [...m.segment_play_counts]
        counts[index] = count
        renderings.push(await renderedSegment(wav, pristine, m, index, counts, ratePercent))
      }
      // A float engine's segment opens with a cross-fade from the previous one's sound: if the journal
      // replays that one, its head may hold any count the previous segment passed through. Only the
      // rest of the segment is judged then (the head is a few milliseconds; a hand edit is not).
      const engineTrack = engineTrackOf(m, ratePercent)
      if (engineTrack !== undefined && index > 0 && replayed.has(index - 1)) {
        const head = crossfadeFrames(engineTrack) * m.layout.format.blockAlign
        for (const r of renderings) current.copy(r, 0, 0, head)
      }
      if (!pagesMatchSome(current, renderings)) return false
    }
    return true
  } catch {
    return false
  } finally {
    await Promise.all([audio.close(), pristine.close()])
  }
}

/** First, middle, last, then the rest in order: the segments to sample, spread over the track. */
function spread (total: number): number[] {
  const first = [0, Math.floor(total / 2), total - 1].filter((s, i, all) => s >= 0 && all.indexOf(s) === i)
  return [...first, ...Array.from({ length: total }, (_, s) => s).filter(s => !first.includes(s))]
}

/** Every page of `current` equals the same page of one of `renderings` (a write torn at page boundaries). */
function pagesMatchSome (current: Buffer, renderings: Buffer[]): boolean {
  for (let at = 0; at < current.length; at += PAGE) {
    const page = current.subarray(at, at + PAGE)
    if (!renderings.some(r => r.subarray(at, at + PAGE).equals(page))) return false
  }
  return true
}
