import type { FastifyBaseLogger } from 'fastify'
import type { OpenedJournal, PlayRecord } from '../../lib/play-journal.js'
import { renderSegment } from '../../lib/render.js'
import { segmentSpan } from '../../lib/wav-format.js'
import { sum } from '../../lib/track-figures.js'
import type { Library, Track } from './library.js'
import type { Degrader } from './degrader.js'
import type { WavIo } from './wav-io.js'
import { restorePristineAudio } from './track-reset.js'

interface RecoveryDeps {
  library: Library
  degrader: Degrader
  wav: WavIo
  log: FastifyBaseLogger
  ratePercent: number
}

/** How many untouched segments to compare against their rendering to tell our own writes from a hand edit. */
const SAMPLED_SEGMENTS = 3

/**
 * Start-up after a stop, clean or not. Plays the journal still holds were
 * acknowledged but maybe not checkpointed: their counts are restored (the
 * record carries the count, so taking the max is idempotent) and their
 * segments re-rendered, which also repairs an audio write cut short. A file
 * whose mtime moved but whose untouched segments no longer match their
 * rendering was edited by hand: it starts over as a new track.
 */
export async function recover (deps: RecoveryDeps, opened: OpenedJournal): Promise<void> {
  const { library, degrader, log } = deps
  const pending = groupByTrack(opened.recovered)
  if (opened.skippedLines > 0) log.warn({ skippedLines: opened.skippedLines }, 'journal had torn records (never acknowledged); ignored')

  for (const track of library.list()) {
    const replayed = pending.get(track.filename) ?? new Map<number, number>()
    if (track.meta.reset_pending === true) {
      log.warn({ track: track.filename }, 'finishing a reset that a stop interrupted')
      await restorePristineAudio(deps.wav, track)
      delete track.meta.reset_pending
      track.suspect = false
      library.markDirty(track)
    }
    if (track.suspect && !await untouchedSegmentsMatch(deps, track, replayed)) {
      log.warn({ track: track.filename }, 'audio file was edited while the service was down: starting it as a new track')
      await degrader.closeHandles(track)
      await library.restartAsNew(track)
      continue
    }
    if (track.suspect) {
      // Our own writes (or a touch): record the file as it is so the next start trusts it at once.
      track.suspect = false
      library.markDirty(track)
    }
    if (replayed.size === 0) continue
    const counts = track.meta.segment_play_counts
    for (const [segment, count] of replayed) {
      if (segment >= counts.length) continue
      counts[segment] = Math.max(counts[segment] ?? 0, count)
      await degrader.render(track, segment)
    }
    track.plays = sum(counts)
    library.markDirty(track)
    log.info({ track: track.filename, segments: replayed.size }, 'replayed plays from the journal')
  }
  for (const name of pending.keys()) {
    if (library.list().every(t => t.filename !== name)) log.warn({ track: name }, 'journal names a track that is no longer in AUDIO_DIR; its plays are dropped')
  }

  await degrader.syncWritten()
  await library.flush()
  await opened.journal.retire(opened.recoveredThrough)
}

function groupByTrack (records: PlayRecord[]): Map<string, Map<number, number>> {
  const byTrack = new Map<string, Map<number, number>>()
  for (const r of records) {
    let segments = byTrack.get(r.track)
    if (segments === undefined) byTrack.set(r.track, segments = new Map())
    segments.set(r.segment, Math.max(segments.get(r.segment) ?? 0, r.count))
  }
  return byTrack
}

/** Compare a few segments the journal does not name with their rendering at the recorded count. */
async function untouchedSegmentsMatch (deps: RecoveryDeps, track: Track, replayed: Map<number, number>): Promise<boolean> {
  const m = track.meta
  const candidates = [0, Math.floor(m.total_segments / 2), m.total_segments - 1]
    .filter((s, i, all) => s >= 0 && all.indexOf(s) === i && !replayed.has(s))
    .slice(0, SAMPLED_SEGMENTS)
  if (candidates.length === 0) return true
  const [audio, pristine] = await Promise.all([deps.wav.openForRead(track.path), deps.wav.openForRead(track.pristinePath)])
  try {
    for (const index of candidates) {
      const span = segmentSpan(m.layout, m.segment_duration, index)
      const [current, original] = await Promise.all([
        deps.wav.readSpan(audio, span.byteOffset, span.byteLength),
        deps.wav.readSpan(pristine, span.byteOffset, span.byteLength)
      ])
      const expected = renderSegment(original, m.layout.format, {
        seed: m.track_id,
        segmentIndex: index,
        plays: m.segment_play_counts[index] ?? 0,
        baselinePlays: m.baseline_play_counts[index] ?? 0,
        ratePercent: deps.ratePercent
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
