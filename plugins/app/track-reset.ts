import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { segmentSpan } from '../../lib/wav-format.js'
import { fitLength } from '../../lib/track-metadata.js'
import { sum } from '../../lib/track-figures.js'
import type { Track } from './library.js'
import type { WavIo } from './wav-io.js'
import type { MetadataStore } from './metadata-store.js'

/**
 * Copy every segment's pristine frames back into the audio, then make it
 * durable. `wrote` hears of every write, for whoever keeps the bytes in memory.
 */
export async function restorePristineAudio (wav: WavIo, track: Track, wrote: (position: number, data: Buffer) => void = () => {}): Promise<void> {
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
    const stat = await audio.stat()
    m.file = { size: stat.size, mtime_ms: stat.mtimeMs }
    track.lastModified = stat.mtime
  } finally {
    await Promise.all([audio.close(), pristine.close()])
  }
}

/**
 * Give a track its pristine audio back: counts return to the baseline (zero,
 * or the Flask service's counts for an adopted track) and the track gets a new
 * identity, so every cached copy and ETag is invalidated. Crash-safe: the
 * intent is recorded in the metadata before the audio is touched, and a
 * restart finishes the copy (see recovery.ts).
 */
export function createTrackReset (deps: {
  wav: WavIo
  store: MetadataStore
  withTrackAlone: <T>(track: string, work: () => Promise<T>) => Promise<T>
  checkpoint: () => Promise<void>
  forget: (track: Track) => Promise<void>
  wrote: (track: Track, position: number, data: Buffer) => void
}) {
  return async function resetTrack (track: Track): Promise<void> {
    await deps.withTrackAlone(track.filename, async () => {
      // Retire every journal record of the old history first: replaying one after the reset would bring its count back.
      await deps.checkpoint()
      await deps.forget(track)
      const m = track.meta
      m.segment_play_counts = fitLength(m.baseline_play_counts, m.total_segments)
      m.track_id = randomUUID()
      m.reset_pending = true
      track.plays = sum(m.segment_play_counts)
      await deps.store.save(m)
      await restorePristineAudio(deps.wav, track, (position, data) => deps.wrote(track, position, data))
      delete m.reset_pending
      m.updated_at = new Date().toISOString()
      await deps.store.save(m)
    })
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    resetTrack: ReturnType<typeof createTrackReset>
  }
}

export default fp(async function trackResetPlugin (fastify) {
  fastify.decorate('resetTrack', createTrackReset({
    wav: fastify.wav,
    store: fastify.metadata,
    withTrackAlone: fastify.locks.track,
    checkpoint: async () => await fastify.degrader.checkpoint(),
    forget: async track => {
      fastify.trackCache.drop(track)
      await fastify.degrader.closeHandles(track)
    },
    wrote: (track, position, data) => fastify.trackCache.write(track, position, data)
  }))
}, { name: 'track-reset', dependencies: ['wav-io', 'metadata-store', 'lock-manager', 'degrader', 'track-cache'] })
