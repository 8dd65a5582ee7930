import fp from 'fastify-plugin'
import { EventEmitter } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Mutex } from 'async-mutex'
import { PlayJournal } from '../../lib/play-journal.js'
import { renderSegment } from '../../lib/render.js'
import { segmentSpan } from '../../lib/wav-format.js'
import { silencedShare } from '../../lib/dropout.js'
import { overallDegradation } from '../../lib/track-figures.js'
import { TrackError, type Library, type Track } from './library.js'
import type { LockManager } from './lock-manager.js'
import type { WavIo } from './wav-io.js'
import { recover } from './recovery.js'

interface DegraderDeps {
  library: Library
  locks: LockManager
  wav: WavIo
  journal: PlayJournal
  ratePercent: number
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
  const { library, locks, wav, journal } = deps
  const handles = new Map<Track, Promise<{ audio: FileHandle, pristine: FileHandle }>>()
  const written = new Set<Track>()
  // Plays whose record is in a generation but whose audio may not be written yet, per generation.
  const inflight = new Map<number, number>()
  let drainWaiters: Array<() => void> = []
  const checkpointLock = new Mutex()
  const events = new EventEmitter<{ play: [PlayEvent] }>()
  // Any number of live listeners (one per connected client) may subscribe.
  events.setMaxListeners(0)

  function handlesOf (track: Track) {
    let h = handles.get(track)
    if (h === undefined) {
      h = Promise.all([wav.openForUpdate(track.path), wav.openForRead(track.pristinePath)])
        .then(([audio, pristine]) => ({ audio, pristine }))
      h.catch(() => handles.delete(track))
      handles.set(track, h)
    }
    return h
  }

  /** Render segment `index` at its current count and write it in place: only its bytes change. */
  async function render (track: Track, index: number): Promise<void> {
    const { audio, pristine } = await handlesOf(track)
    const m = track.meta
    const span = segmentSpan(m.layout, m.segment_duration, index)
    const frames = await wav.readSpan(pristine, span.byteOffset, span.byteLength)
    const rendered = renderSegment(frames, m.layout.format, {
      seed: m.track_id,
      segmentIndex: index,
      plays: m.segment_play_counts[index] ?? 0,
      baselinePlays: m.baseline_play_counts[index] ?? 0,
      ratePercent: deps.ratePercent
    })
    await wav.writeSpan(audio, span.byteOffset, rendered)
    written.add(track)
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

  async function closeHandles (track: Track): Promise<void> {
    const h = handles.get(track)
    handles.delete(track)
    if (h === undefined) return
    const { audio, pristine } = await h
    await Promise.all([audio.close(), pristine.close()])
  }

  /** Make the written audio durable, then record the file as it now is. */
  async function syncWritten (): Promise<void> {
    const tracks = [...written]
    written.clear()
    for (const track of tracks) {
      const { audio } = await handlesOf(track)
      await audio.datasync()
      const stat = await audio.stat()
      track.meta.file = { size: stat.size, mtime_ms: stat.mtimeMs }
      track.lastModified = stat.mtime
      library.markDirty(track)
    }
  }

  return {
    async play (track: Track, index: number): Promise<PlayResult> {
      const m = track.meta
      if (!Number.isInteger(index) || index < 0 || index >= m.total_segments) {
        throw new TrackError(400, 'EA_SEGMENT_OUT_OF_RANGE',
          `segment_index ${index} is out of range: ${track.filename} has ${m.total_segments} segments (0 to ${m.total_segments - 1})`)
      }
      return await locks.segment(track.filename, index, async () => {
        const count = (m.segment_play_counts[index] ?? 0) + 1
        const generation = journal.generation
        enter(generation)
        try {
          await journal.append({ track: track.filename, segment: index, count })
          // Durable from here on: a crash now is repaired by replaying the record.
          m.segment_play_counts[index] = count
          track.plays++
          await render(track, index)
          track.lastModified = new Date()
        } finally {
          leave(generation)
        }
        const result = {
          play_count: count,
          segment_degradation: Math.round(silencedShare(count, deps.ratePercent) * 100 * 1e4) / 1e4,
          overall_degradation: overallDegradation(m.segment_play_counts, deps.ratePercent),
          total_plays: track.plays
        }
        events.emit('play', { filename: track.filename, segment_index: index, ...result })
        return result
      })
    },

    events,

    render,
    syncWritten,
    closeHandles,

    /** Audio and metadata durable, then the journal generations they cover retired. */
    async checkpoint (): Promise<void> {
      await checkpointLock.runExclusive(async () => {
        const previous = await journal.rotate()
        await drained(previous)
        await syncWritten()
        await library.flush()
        await journal.retire(previous)
      })
    },

    async close (): Promise<void> {
      await this.checkpoint()
      await journal.close()
      await Promise.all([...handles.keys()].map(closeHandles))
    }
  }
}

export type Degrader = ReturnType<typeof createDegrader>

declare module 'fastify' {
  interface FastifyInstance {
    degrader: Degrader
  }
}

export default fp(async function degraderPlugin (fastify) {
  const { library, locks, wav, config, log } = fastify
  const opened = await PlayJournal.open(join(config.metadataDir, 'journal'))
  const degrader = createDegrader({ library, locks, wav, journal: opened.journal, ratePercent: config.degradationRate })
  await recover({ library, degrader, wav, log, ratePercent: config.degradationRate }, opened)

  const timer = setInterval(() => {
    degrader.checkpoint().catch((err: unknown) => log.error({ err }, 'checkpoint failed; will retry'))
  }, config.checkpointIntervalMs)
  timer.unref()

  fastify.decorate('degrader', degrader)
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await degrader.close()
  })
}, { name: 'degrader', dependencies: ['config', 'library', 'lock-manager', 'wav-io'] })
