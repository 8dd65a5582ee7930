import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { OpenedJournal, PlayRecord } from '../../lib/play-journal.js'
import { sum } from '../../lib/track-figures.js'
import { TrackError } from '../../lib/track-error.js'
import type { Track, TrackStore } from './track-store.js'
import type { Degrader } from './degrader.js'

interface RecoveryDeps {
  tracks: TrackStore
  degrader: Degrader
  log: FastifyBaseLogger
  /** Told of the records replayed into each track (for the listening history), and saves them before the journal is retired. */
  history?: { replayed: (track: Track, records: readonly PlayRecord[]) => void, flush: () => Promise<void> }
}

/**
 * Start-up after a stop, clean or not. Plays the journal still holds were
 * acknowledged but maybe not checkpointed: their counts are restored (the
 * record carries the count, so taking the max is idempotent) and their
 * segments re-rendered, which also repairs an audio write cut short. A record
 * applies only to the identity it was acknowledged for: never to a file that
 * replaced it. Only the tracks the journal names are prepared here; the rest
 * of the library is prepared afterwards, in the background.
 */
export async function recover (deps: RecoveryDeps, opened: OpenedJournal): Promise<void> {
  const { tracks, degrader, log } = deps
  const pending = groupByTrack(opened.recovered)
  if (opened.skippedLines > 0) log.warn({ skippedLines: opened.skippedLines }, 'journal had torn records (never acknowledged); ignored')
  tracks.expectReplays(new Map([...pending].map(([name, p]) => [name, new Map([...p.segments].map(([s, r]) => [s, r.count]))])))

  for (const [name, records] of pending) {
    let track: Track
    try {
      // Renamed by case while the service was down: the same track, under its new name.
      track = await tracks.get(tracks.nameInFolder(name) ?? name)
    } catch (err) {
      if (!(err instanceof TrackError)) throw err
      log.warn({ track: name, reason: err.message }, 'journal names a track that cannot be served now; its plays are dropped')
      continue
    }
    const counts = track.meta.segment_play_counts
    let replayed = 0
    for (const [segment, { count, id }] of records.segments) {
      // A record of another identity (the file was replaced) is not this track's play.
      if (id !== undefined && id !== track.id && !track.adoptsJournal) continue
      if (segment >= counts.length) continue
      counts[segment] = Math.max(counts[segment] ?? 0, count)
      await degrader.render(track, segment)
      replayed++
    }
    deps.history?.replayed(track, opened.recovered.filter(r => r.track === name && (r.id === undefined || r.id === track.id || track.adoptsJournal) && r.segment < counts.length))
    if (replayed < records.segments.size) log.warn({ track: name, dropped: records.segments.size - replayed }, 'journal records of an earlier identity of this file were dropped')
    track.plays = sum(counts)
    tracks.markDirty(track)
    log.info({ track: name, segments: replayed }, 'replayed plays from the journal')
  }

  await degrader.syncWritten()
  await tracks.flush()
  await deps.history?.flush()
  await opened.journal.retire(opened.recoveredThrough)
}

function groupByTrack (records: PlayRecord[]): Map<string, { segments: Map<number, { count: number, id: string | undefined }> }> {
  const byTrack = new Map<string, { segments: Map<number, { count: number, id: string | undefined }> }>()
  for (const r of records) {
    let entry = byTrack.get(r.track)
    if (entry === undefined) byTrack.set(r.track, entry = { segments: new Map() })
    const known = entry.segments.get(r.segment)
    // The newest identity's records win: a record's count only compares with its own identity's.
    if (known === undefined || known.id !== r.id || r.count > known.count) entry.segments.set(r.segment, { count: r.count, id: r.id })
  }
  return byTrack
}

/** Replays the journal's leftovers, then lets the library be prepared and checkpoints begin. */
export default fp(async function recoveryPlugin (fastify) {
  const { tracks, degrader, log, journalLeftovers, config, analytics } = fastify
  await recover({ tracks, degrader, log, history: analytics }, journalLeftovers)
  degrader.startCheckpoints(config.checkpointIntervalMs, log)
  // Once every plugin and route is registered, just before listening: the library's preparation
  // (copies and fsyncs) must not compete with the rest of start-up.
  fastify.addHook('onReady', async () => { await tracks.startPreparing() })
}, { name: 'recovery', dependencies: ['track-store', 'degrader', 'analytics'] })
