import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { fitLength, type TrackMetadata } from '../../lib/track-metadata.js'
import type { Track, TrackStore } from './track-store.js'
import type { WavIo } from './wav-io.js'
import type { MetadataStore } from './metadata-store.js'
import { FileReplaced, renderWholeTrack } from './pristine.js'
import { TrackError } from '../../lib/track-error.js'

/**
 * Whole-track changes asked for through the API. Each runs as one sequence
 * under the track's write gate (TrackStore.renew): the old identity is
 * retired first (handles closed, bytes in memory dropped), then the change is
 * recorded crash-safely before the audio is touched.
 */
export function createLifecycle (deps: {
  wav: WavIo
  store: MetadataStore
  tracks: TrackStore
  checkpoint: () => Promise<void>
  wrote: (track: Track, position: number, data: Buffer) => void
  removed: (track: Track) => void
  /** A whole-track change gave `old` a new identity, `next`. */
  renewed: (old: Track, next: Track, what: string) => void
  ratePercent: number
}) {
  const lifecycle = {
    /** Delete a track for good (TrackStore.remove); its live listeners are told. */
    async remove (track: Track): Promise<void> {
      await deps.tracks.remove(track)
      deps.removed(track)
    },

    /** Install an upload decoded to `temp` as the track `filename` (TrackStore.install). */
    async upload (filename: string, temp: string, options: { mustBeNew: boolean, engine?: { id: string, params: Record<string, number> } }): Promise<{ track: Track, created: boolean }> {
      return await deps.tracks.install(filename, temp, options)
    },

    /** Set the title shown for the track (the Flask field `title`; by default the name without .wav). */
    async retitle (track: Track, title: string): Promise<void> {
      await deps.tracks.update(track, meta => { meta.title = title })
    },

    /**
     * Give a track its pristine audio back: counts return to the baseline
     * (zero, or the Flask service's counts for an adopted track) under a new
     * identity, so every cached copy and ETag is invalidated. The intent is
     * recorded in the metadata before the audio is touched, and a restart
     * finishes the copy (TrackStore's resume).
     */
    async reset (track: Track): Promise<Track> {
      return await rerender(track, 'reset', meta => ({ ...meta, segment_play_counts: fitLength(meta.baseline_play_counts, meta.total_segments) }))
    },

    /**
     * Let the track decay in another way from now on: its counts are kept and
     * every segment is rendered again from its pristine copy by the new
     * engine, under a new identity (caches and ETags follow), crash-safely
     * as a reset is.
     */
    async changeEngine (track: Track, engine: string, params: Record<string, number>): Promise<Track> {
      return await rerender(track, 'engine change', meta => ({ ...meta, engine, engine_params: params }))
    }
  }

  /**
   * A whole-track change that renders the audio again from the pristine copy
   * under a new identity. The intent is recorded in the metadata before the
   * audio is touched, and a restart finishes the rendering (TrackStore's resume).
   */
  async function rerender (track: Track, what: string, change: (meta: TrackMetadata) => TrackMetadata): Promise<Track> {
    // Every journal record of the old identity into its metadata first: replaying one under the new identity would count it twice, or bring a reset count back.
    await deps.checkpoint()
    const next = await deps.tracks.renew(track, old => ({ ...change(old.meta), track_id: randomUUID(), reset_pending: true }), async next => {
      const m = next.meta
      // The intent, durable before the audio changes: a stop from here on is finished by the next start.
      await deps.store.save(m)
      const stat = await renderWholeTrack(deps.wav, next, deps.ratePercent, next.inode, (position, data) => deps.wrote(next, position, data))
      m.file = { size: stat.size, mtime_ms: stat.mtimeMs, ino: stat.ino }
      next.knownMtimeMs = stat.mtimeMs
      next.lastModified = stat.mtime
      delete m.reset_pending
      m.updated_at = new Date().toISOString()
      await deps.store.save(m)
    }).catch((err: unknown) => {
      if (err instanceof FileReplaced) throw new TrackError(409, 'EA_TRACK_CHANGED', `${track.filename} was replaced on disk during the ${what}; nothing was changed`)
      throw err
    })
    deps.renewed(track, next, what)
    return next
  }
  return lifecycle
}

export type Lifecycle = ReturnType<typeof createLifecycle>

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle
  }
}

export default fp(async function lifecyclePlugin (fastify) {
  // The end of an identity, whatever ends it: its files closed, its bytes in memory dropped.
  fastify.tracks.onRetire(async track => {
    await fastify.degrader.closeHandles(track)
    await fastify.trackCache.forget(track)
  })
  fastify.decorate('lifecycle', createLifecycle({
    wav: fastify.wav,
    store: fastify.metadata,
    tracks: fastify.tracks,
    checkpoint: async () => await fastify.degrader.checkpoint(),
    wrote: (track, position, data) => fastify.trackCache.write(track, position, data),
    removed: track => fastify.degrader.events.emit('removed', { filename: track.filename }),
    renewed: (old, next, what) => fastify.degrader.events.emit('renewed', { old, next, what }),
    ratePercent: fastify.config.degradationRate
  }))
}, { name: 'lifecycle', dependencies: ['wav-io', 'metadata-store', 'track-store', 'degrader', 'track-cache'] })
