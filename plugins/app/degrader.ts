import fp from 'fastify-plugin'
import { EventEmitter } from 'node:events'
import { fstatSync, readSync, type Stats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Mutex } from 'async-mutex'
import { PlayJournal, type OpenedJournal } from '../../lib/play-journal.js'
import { renderInPlace } from '../../lib/render.js'
import { segmentSpan } from '../../lib/wav-format.js'
import { playSpan, renderFrames, type EngineTrack } from '../../lib/engines/segment.js'
import { engineTrackOf } from '../../lib/engines/track-render.js'
import type { TrackMetadata } from '../../lib/track-metadata.js'
import { DegradationTally } from '../../lib/degradation-tally.js'
import { segmentPercent } from '../../lib/track-figures.js'
import { TrackError } from '../../lib/track-error.js'
import type { Track, TrackStore } from './track-store.js'
import type { LockManager } from './lock-manager.js'
import type { WavIo } from './wav-io.js'
import type { TrackCache } from './track-cache.js'

/** Plays rendering at once rarely exceed the connections; beyond this many, buffers go to the garbage collector. */
const MAX_SPARE_BUFFERS = 64

/**
 * A checkpoint writes back every segment played since the last one in one
 * fdatasync, and journal commits queue behind it on the disk. On a short
 * track that is at most the file (replays of a segment coalesce in the page
 * cache); on a long one, random plays rarely coalesce, and five seconds of
 * them make hundreds of MB, stalling plays for a large part of a second. So a
 * track whose unwritten segments reach this many bytes, while still a small
 * share of the file (fewer than 1 in EARLY_FLUSH_SHARE), is written back at
 * once: bursts stay a few ms long, and no more bytes reach the disk than a
 * checkpoint would have written.
 */
const EARLY_FLUSH_BYTES = 4 * 1024 * 1024
const EARLY_FLUSH_SHARE = 4

/** A play finds its track replaced at most this many times in a row before it gives up (409). */
const MAX_IDENTITY_RETRIES = 5
// Header bytes compared after each write: enough for RIFF, fmt and a fact chunk.
const HEADER_CHECK_BYTES = 512

interface TrackHandles { audio: FileHandle, pristine: FileHandle, header: Buffer }
interface Written { position: number, frames: Buffer }

/** The file at the track's path is no longer the track's file: its identity must be refreshed. */
class FileChanged extends Error {}

interface DegraderDeps {
  tracks: TrackStore
  locks: LockManager
  wav: WavIo
  journal: PlayJournal
  /** Told of every write, so the bytes it serves from memory stay those of the file. */
  cache: TrackCache
  ratePercent: number
  /** Milliseconds since the epoch; tests inject their own. */
  clock?: () => number
}

/** Emitted as 'recorded' on `degrader.events` after every recorded play, for the listening history. */
export interface RecordedPlay {
  track: Track
  segment: number
  count: number
  overall: number
  at: number
}

/** Emitted as 'play' on `degrader.events` after every recorded play, for live listeners. */
export interface PlayEvent extends PlayResult {
  filename: string
  segment_index: number
}

export interface PlayResult {
  play_count: number
  segment_degradation: number
  overall_degradation: number
  total_plays: number
}

/**
 * Records plays and renders their damage. A play is acknowledged only after
 * its record is durable in the journal (the write-ahead log); the audio is
 * then rendered from the pristine copy. A checkpoint makes the audio and the
 * metadata files durable and retires the journal generations they cover.
 */
export function createDegrader (deps: DegraderDeps) {
  const { tracks, locks, wav, journal, cache } = deps
  const clock = deps.clock ?? Date.now
  // Whatever else keeps plays (the listening history) saves them before the journal lets them go.
  const beforeRetire: Array<() => Promise<void>> = []
  const afterClose: Array<() => Promise<void>> = []
  // Per identity (track_id): a replaced file's handles can never serve its successor.
  const handles = new Map<string, Promise<TrackHandles>>()
  // Per counts array: a track whose metadata is replaced (restartAsNew) starts a new tally.
  // Once the service runs, counts change only through play().
  const tallies = new WeakMap<number[], DegradationTally>()
  // Segment buffers for reading the pristine frames, reused play after play: the
  // cache copies what it keeps, so a play leaves no 88 KB of garbage behind.
  const spareBuffers: Buffer[] = []
  const written = new Map<string, Track>()
  // Segments written since the track's audio was last made durable, for early write-back.
  const unflushed = new Map<string, { segments: Set<number>, bytes: number, flushing?: Promise<void> }>()
  // An early write-back that failed: the kernel may since have dropped those pages, and a later
  // fdatasync would not say so. Checkpoints fail from then on, so the journal is kept and the
  // next start re-renders the plays it holds.
  let flushError: unknown
  const stats = { earlyFlushes: 0 }
  // Plays whose record is in a generation but whose audio may not be written yet, per generation.
  const inflight = new Map<number, number>()
  let drainWaiters: Array<() => void> = []
  const checkpointLock = new Mutex()
  // Per identity: the check-write-stat sequence of writeOwn.
  const writeLocks = new Map<string, Mutex>()
  let timer: NodeJS.Timeout | undefined
  const events = new EventEmitter<{ play: [PlayEvent], removed: [{ filename: string }], checkpoint: [{ seconds: number }], recorded: [RecordedPlay], renewed: [{ old: Track, next: Track, what: string }] }>()
  // Any number of live listeners (one per connected client) may subscribe.
  events.setMaxListeners(0)

  function handlesOf (track: Track) {
    let h = handles.get(track.id)
    if (h === undefined) {
      if (track.retired) return Promise.reject(new FileChanged())
      h = openHandles(track)
      h.catch(() => handles.delete(track.id))
      handles.set(track.id, h)
    }
    return h
  }

  /** Open the track's files, checking that the audio is still the file this identity was made for. */
  async function openHandles (track: Track): Promise<TrackHandles> {
    const audio = await wav.openForUpdate(track.path)
    try {
      const stat = await audio.stat()
      if (stat.ino !== track.inode.ino || stat.dev !== track.inode.dev) throw new FileChanged()
      const header = headerNow(audio, track)
      return { audio, pristine: await wav.openForRead(track.pristinePath), header }
    } catch (err) {
      await audio.close()
      throw err
    }
  }

  function tallyOf (counts: number[]): DegradationTally {
    let tally = tallies.get(counts)
    if (tally === undefined) tallies.set(counts, tally = new DegradationTally(counts, deps.ratePercent))
    return tally
  }

  function spareBuffer (length: number): Buffer {
    const spare = spareBuffers.pop()
    return spare !== undefined && spare.length >= length ? spare : Buffer.allocUnsafeSlow(length)
  }

  /**
   * Render segment `index` at its current count and write it in place: only
   * its bytes change (with a float engine, also the cross-fade at the head of
   * the next segment, lib/engines/segment.ts).
   */
  async function render (track: Track, index: number): Promise<void> {
    const handles = await handlesOf(track)
    const m = track.meta
    const engineTrack = engineTrackOf(m, deps.ratePercent)
    const span = segmentSpan(m.layout, m.segment_duration, index)
    const buffer = spareBuffer(span.byteLength)
    let bytes = span.byteLength
    try {
      let produce: () => Promise<Written>
      if (engineTrack === undefined) {
        const frames = await wav.readSpan(handles.pristine, span.byteOffset, span.byteLength, buffer)
        renderInPlace(frames, m.layout.format, {
          seed: m.track_id,
          segmentIndex: index,
          plays: m.segment_play_counts[index] ?? 0,
          baselinePlays: m.baseline_play_counts[index] ?? 0,
          ratePercent: deps.ratePercent
        })
        produce = async () => ({ position: span.byteOffset, frames })
      } else {
        // Rendered under the write lock: the head of the next segment depends on both counts, and the last write must see both.
        produce = async () => await renderWithEngine(engineTrack, m, handles.pristine, index)
      }
      try {
        bytes = (await writeOwn(track, handles, produce)).frames.length
      } catch (err) {
        // The segment on disk may be half written: memory must not claim to know it.
        cache.drop(track)
        throw err
      }
    } finally {
      if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer)
    }
    written.set(track.id, track)
    noteUnflushed(track, index, bytes)
  }

  async function renderWithEngine (engineTrack: EngineTrack, m: TrackMetadata, pristine: FileHandle, index: number): Promise<Written> {
    const span = playSpan(engineTrack, index)
    const { dataOffset, format: { blockAlign } } = m.layout
    const source = await wav.readSpan(pristine, dataOffset + span.readFrom * blockAlign, (span.to - span.readFrom) * blockAlign)
    return { position: dataOffset + span.from * blockAlign, frames: renderFrames(engineTrack, span, source) }
  }

  /**
   * Write into the track's file only if nobody else has written it since our
   * last write (its mtime and size are still the ones we left), then record
   * the mtime our write left. One write per track at a time, so that a copy
   * made over the file in place between two of our writes is never taken for
   * one of them.
   *
   * A copy that lands inside our own stat-write-stat window cannot be told
   * from our write by its mtime (nothing locks a file against other writers),
   * so the size, link count and header are checked again after the write: a
   * different file is then retired at this play, and at most this one
   * segment of it holds the old track's audio.
   */
  async function writeOwn (track: Track, handles: TrackHandles, produce: () => Promise<Written>): Promise<Written> {
    const { audio, header } = handles
    let lock = writeLocks.get(track.id)
    if (lock === undefined) writeLocks.set(track.id, lock = new Mutex())
    return await lock.runExclusive(async () => {
      // The checks are synchronous: a stat or a read of the header from the page cache takes
      // microseconds, while each thread-pool hop held here is time no other play of the track can write.
      const before = fstatSync(audio.fd)
      if (!stillOurs(track, before)) throw new FileChanged()
      const written = await produce()
      await wav.writeSpan(audio, written.position, written.frames)
      const after = fstatSync(audio.fd)
      if (!stillOurs(track, after, after.mtimeMs) || !headerNow(audio, track).equals(header)) {
        track.knownMtimeMs = Number.NaN
        throw new FileChanged()
      }
      track.knownMtimeMs = after.mtimeMs
      // In write order: two plays' writes may overlap (a segment and its neighbour's cross-fade).
      cache.write(track, written.position, written.frames)
      return written
    })
  }

  function stillOurs (track: Track, stat: Stats, mtimeMs = track.knownMtimeMs): boolean {
    return stat.mtimeMs === mtimeMs && stat.size === track.meta.file.size && stat.nlink === 1
  }

  /** The bytes before the audio (up to 512), read from the page cache: a copy in another format differs here. */
  function headerNow (audio: FileHandle, track: Track): Buffer {
    const buffer = Buffer.alloc(Math.min(track.meta.layout.dataOffset, HEADER_CHECK_BYTES))
    return buffer.subarray(0, readSync(audio.fd, buffer, 0, buffer.length, 0))
  }

  function noteUnflushed (track: Track, index: number, bytes: number): void {
    let u = unflushed.get(track.id)
    if (u === undefined) unflushed.set(track.id, u = { segments: new Set(), bytes: 0 })
    if (!u.segments.has(index)) {
      u.segments.add(index)
      u.bytes += bytes
    }
    if (u.flushing === undefined && u.bytes >= EARLY_FLUSH_BYTES && u.bytes * EARLY_FLUSH_SHARE < track.meta.file.size) {
      u.segments.clear()
      u.bytes = 0
      stats.earlyFlushes++
      const flush = u.flushing = handlesOf(track)
        .then(async ({ audio }) => await audio.datasync())
        .catch((err: unknown) => { flushError ??= err })
        .finally(() => { if (u.flushing === flush) delete u.flushing })
    }
  }

  function enter (generation: number): void {
    inflight.set(generation, (inflight.get(generation) ?? 0) + 1)
  }

  function leave (generation: number): void {
    const left = (inflight.get(generation) ?? 1) - 1
    if (left === 0) inflight.delete(generation)
    else inflight.set(generation, left)
    const waiters = drainWaiters
    drainWaiters = []
    for (const wake of waiters) wake()
  }

  async function drained (throughGeneration: number): Promise<void> {
    while ([...inflight.keys()].some(g => g <= throughGeneration)) {
      await new Promise<void>(resolve => drainWaiters.push(resolve))
    }
  }

  /**
   * Let go of a retired identity's files. What it wrote is made durable
   * first and recorded in its metadata (which the store saves as it retires
   * it): a file moved away and back keeps its plays. Under the checkpoint
   * lock, so a checkpoint never syncs a handle closed under it.
   */
  async function closeHandles (track: Track): Promise<void> {
    await checkpointLock.runExclusive(async () => {
      await unflushed.get(track.id)?.flushing
      unflushed.delete(track.id)
      const h = handles.get(track.id)
      handles.delete(track.id)
      const wrote = written.delete(track.id)
      writeLocks.delete(track.id)
      const opened = await h?.catch(() => undefined)
      if (opened === undefined) return
      try {
        if (wrote) {
          await opened.audio.datasync()
          const stat = await opened.audio.stat()
          track.meta.file = { size: stat.size, mtime_ms: stat.mtimeMs, ino: stat.ino }
        }
      } finally {
        await Promise.all([opened.audio.close(), opened.pristine.close()])
      }
    })
  }

  /** Make the written audio durable, then record the file as it now is. */
  async function syncWritten (): Promise<void> {
    if (flushError !== undefined) throw flushError
    const batch = [...written.values()]
    written.clear()
    for (const [i, track] of batch.entries()) {
      if (track.retired) continue
      try {
        const { audio } = await handlesOf(track)
        const u = unflushed.get(track.id)
        u?.segments.clear()
        if (u !== undefined) u.bytes = 0
        await audio.datasync()
        const stat = await audio.stat()
        track.meta.file = { size: stat.size, mtime_ms: stat.mtimeMs, ino: stat.ino }
        track.lastModified = stat.mtime
        tracks.markDirty(track)
      } catch (err) {
        // Not durable: this track and the rest wait for the next checkpoint, and the journal keeps their plays.
        for (const later of batch.slice(i)) if (!later.retired) written.set(later.id, later)
        throw err
      }
    }
  }

  function checkSegment (track: Track, index: number): void {
    const total = track.meta.total_segments
    if (!Number.isInteger(index) || index < 0 || index >= total) {
      throw new TrackError(400, 'EA_SEGMENT_OUT_OF_RANGE',
        `segment_index ${index} is out of range: ${track.filename} has ${total} segments (0 to ${total - 1})`)
    }
  }

  /** The play itself, under the segment's lock: durable record first, then the rendering. */
  async function playLocked (track: Track, index: number): Promise<PlayResult> {
    const m = track.meta
    // Opened (and its inode checked) before anything is recorded: a replaced file refuses the play.
    await handlesOf(track)
    const count = (m.segment_play_counts[index] ?? 0) + 1
    const generation = journal.generation
    const at = clock()
    enter(generation)
    try {
      await journal.append({ track: track.filename, id: track.id, segment: index, count, at })
      // Durable from here on: a crash now is repaired by replaying the record.
      tallyOf(m.segment_play_counts).update(m.segment_play_counts[index] ?? 0, count)
      m.segment_play_counts[index] = count
      try {
        await render(track, index)
      } finally {
        // plays names the bytes in ETags: announce the new version only once they are written.
        track.plays++
        track.lastModified = new Date()
      }
    } finally {
      leave(generation)
    }
    const result = {
      play_count: count,
      segment_degradation: segmentPercent(count, deps.ratePercent),
      overall_degradation: tallyOf(m.segment_play_counts).overall(m.segment_play_counts.length),
      total_plays: track.plays
    }
    events.emit('play', { filename: track.filename, segment_index: index, ...result })
    events.emit('recorded', { track, segment: index, count, overall: result.overall_degradation, at } satisfies RecordedPlay)
    return result
  }

  return {
    /**
     * Record a play of segment `index` of the track named `filename`. The
     * track is looked up outside its gate and checked again inside it: a
     * whole-track change (a replaced file, a reset) holds the gate alone, so
     * once inside, the identity cannot change under the play.
     */
    async play (filename: string, index: number): Promise<PlayResult & { track: Track }> {
      for (let attempt = 0; ; attempt++) {
        const track = await tracks.get(filename)
        checkSegment(track, index)
        const result = await locks.segment(track.key, index, async () => tracks.isCurrent(track) ? await playLocked(track, index) : undefined)
          .catch((err: unknown) => {
            if (!(err instanceof FileChanged)) throw err
            return undefined
          })
        if (result !== undefined) return { ...result, track }
        if (attempt >= MAX_IDENTITY_RETRIES) throw new TrackError(409, 'EA_TRACK_CHANGED', `${filename} keeps changing on disk; try again`)
      }
    },

    events,
    stats,

    /** Run `keep` at each checkpoint before journal generations are retired. */
    beforeRetire (keep: () => Promise<void>): void {
      beforeRetire.push(keep)
    },

    /** Run `done` once close() has made its last checkpoint (whatever `beforeRetire` serves closes here). */
    afterClose (done: () => Promise<void>): void {
      afterClose.push(done)
    },

    render,
    syncWritten,
    closeHandles,

    /** Audio and metadata durable, then the journal generations they cover retired. */
    async checkpoint (): Promise<void> {
      await checkpointLock.runExclusive(async () => {
        const started = performance.now()
        const previous = await journal.rotate()
        await drained(previous)
        await syncWritten()
        await tracks.flush()
        for (const keep of beforeRetire) await keep()
        await journal.retire(previous)
        // For metrics: how long a successful checkpoint held plays' disk time.
        events.emit('checkpoint', { seconds: (performance.now() - started) / 1000 })
      })
    },

    /** Checkpoint every `intervalMs` from now on (once whatever the journal held from earlier runs is replayed). */
    startCheckpoints (intervalMs: number, log: { error: (obj: object, msg: string) => void }): void {
      timer ??= setInterval(() => {
        this.checkpoint().catch((err: unknown) => log.error({ err }, 'checkpoint failed; will retry'))
      }, intervalMs)
      timer.unref()
    },

    async close (): Promise<void> {
      clearInterval(timer)
      try {
        await this.checkpoint()
        await journal.close()
        await Promise.all([...handles.values()].map(async h => {
          const opened = await h.catch(() => undefined)
          if (opened !== undefined) await Promise.all([opened.audio.close(), opened.pristine.close()])
        }))
        handles.clear()
      } finally {
        for (const done of afterClose) await done()
      }
    }
  }
}

export type Degrader = ReturnType<typeof createDegrader>

declare module 'fastify' {
  interface FastifyInstance {
    degrader: Degrader
    journalLeftovers: OpenedJournal
  }
}

export default fp(async function degraderPlugin (fastify) {
  const { tracks, locks, wav, trackCache, config } = fastify
  const opened = await PlayJournal.open(join(config.metadataDir, 'journal'))
  const degrader = createDegrader({ tracks, locks, wav, cache: trackCache, journal: opened.journal, ratePercent: config.degradationRate, clock: fastify.clock })
  fastify.decorate('degrader', degrader)
  // The recovery plugin replays what earlier runs left and retires it.
  fastify.decorate('journalLeftovers', opened)
  fastify.addHook('onClose', async () => await degrader.close())
}, { name: 'degrader', dependencies: ['config', 'track-store', 'lock-manager', 'wav-io', 'track-cache'] })
