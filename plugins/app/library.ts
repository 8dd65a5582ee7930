import fp from 'fastify-plugin'
import { constants, type Stats } from 'node:fs'
import { copyFile, lstat, mkdir, readdir, realpath, rename, open } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { WavFormatError } from '../../lib/riff.js'
import { segmentCount } from '../../lib/wav-format.js'
import { invalidTrackName, isWavName, titleOf } from '../../lib/track-name.js'
import { adoptFlaskMetadata, fitLength, freshMetadata, type TrackMetadata } from '../../lib/track-metadata.js'
import { sum } from '../../lib/track-figures.js'
import { writeDemoTrack } from '../../lib/demo-track.js'
import type { MetadataStore } from './metadata-store.js'
import type { WavIo, InspectedFile } from './wav-io.js'
import { recountFromAudio } from './recount.js'

export const DEMO_TRACK_NAME = 'ephemeral-demo.wav'

export interface Track {
  filename: string
  /** Absolute path of the audio, inside AUDIO_DIR. */
  path: string
  /** Absolute path of the pristine copy the audio is rendered from. */
  pristinePath: string
  meta: TrackMetadata
  /** Sum of the play counts; with track_id it names the audio's current content. */
  plays: number
  lastModified: Date
  /** Its file changed while the service was down (mtime differs, header and size do not). */
  suspect: boolean
}

/** An expected failure with an HTTP status, for the error handler to render. */
export class TrackError extends Error {
  constructor (readonly statusCode: number, readonly code: string, message: string) {
    super(message)
  }
}

interface LibraryDeps {
  audioDir: string
  backupDir: string
  segmentDuration: number
  /** Write a generated demo track when AUDIO_DIR has no WAV files, so a fresh install plays something. */
  demoTrack: boolean
  ratePercent: number
  store: MetadataStore
  wav: WavIo
  log: FastifyBaseLogger
}

/** The tracks in AUDIO_DIR and their metadata, kept in memory. */
export function createLibrary (deps: LibraryDeps) {
  const { store, wav, log } = deps
  const tracks = new Map<string, Track>()
  const skipped = new Map<string, string>()
  const dirty = new Set<Track>()
  let realAudioDir = deps.audioDir

  /** Resolve a name to a regular file really inside AUDIO_DIR (symlinks included), or undefined. */
  async function statInside (filename: string): Promise<{ path: string, stat: Stats } | undefined> {
    const path = join(deps.audioDir, filename)
    try {
      let stat = await lstat(path)
      if (stat.isSymbolicLink()) {
        const target = await realpath(path)
        if (!target.startsWith(realAudioDir + sep)) return undefined
        stat = await lstat(target)
      }
      return stat.isFile() ? { path, stat } : undefined
    } catch {
      return undefined
    }
  }

  async function makePristineCopy (track: { path: string, pristinePath: string }): Promise<void> {
    const temporary = `${track.pristinePath}.${process.pid}.copy.tmp`
    await copyFile(track.path, temporary, constants.COPYFILE_FICLONE)
    const handle = await open(temporary, 'r')
    try { await handle.sync() } finally { await handle.close() }
    await rename(temporary, track.pristinePath)
  }

  async function pristineMatches (track: Track): Promise<boolean> {
    try {
      return (await lstat(track.pristinePath)).size === track.meta.file.size
    } catch {
      return false
    }
  }

  function newTrackInputs (filename: string, inspected: InspectedFile) {
    return {
      filename,
      title: titleOf(filename),
      layout: inspected.layout,
      segmentDuration: deps.segmentDuration,
      totalSegments: segmentCount(inspected.layout, deps.segmentDuration),
      file: { size: inspected.size, mtime_ms: inspected.mtimeMs }
    }
  }

  /** Load one file: trust durable metadata when the file is as it recorded, otherwise (re)inspect it. */
  async function load (filename: string, path: string, stat: Stats): Promise<Track> {
    const loaded = await store.load(filename)
    const base = { filename, path, pristinePath: join(deps.backupDir, filename), suspect: false }
    /** Carry on with metadata we wrote, as long as the pristine copy it renders from is there. */
    const resume = async (meta: TrackMetadata, suspect: boolean): Promise<Track> => {
      const track = { ...base, meta, plays: sum(meta.segment_play_counts), lastModified: stat.mtime, suspect }
      if (!await pristineMatches(track)) await rebaseline(track, 'its pristine copy is missing')
      return track
    }
    if (loaded.status === 'ours' && loaded.metadata.file.size === stat.size && loaded.metadata.file.mtime_ms === stat.mtimeMs) {
      return await resume(loaded.metadata, false)
    }
    const inspected = await wav.inspect(path)
    const inputs = newTrackInputs(filename, inspected)
    let meta: TrackMetadata
    if (loaded.status === 'ours') {
      const same = loaded.metadata.file.size === inspected.size &&
        JSON.stringify(loaded.metadata.layout) === JSON.stringify(inspected.layout)
      // Only the mtime moved: our own unfinished writes before a crash, or a hand edit. Recovery checks which.
      if (same) return await resume({ ...loaded.metadata, file: inputs.file }, true)
      log.warn({ track: filename, plays: sum(loaded.metadata.segment_play_counts) }, 'audio file was replaced while the service was down: starting it as a new track')
      meta = freshMetadata(inputs)
    } else if (loaded.status === 'flask') {
      log.info({ track: filename }, 'adopting metadata from the Flask service: its counts are the baseline')
      meta = adoptFlaskMetadata(loaded.legacy, inputs)
    } else {
      meta = freshMetadata(inputs)
      // Metadata lost (unreadable, or deleted) but the pristine copy survives: read the counts back from the damage.
      const recovered = await recountFromAudio(wav, { audio: path, pristine: base.pristinePath }, inspected.layout, deps.segmentDuration, inputs.totalSegments, deps.ratePercent)
      if (recovered !== undefined) {
        meta.segment_play_counts = recovered
        meta.baseline_play_counts = [...recovered]
      }
      if (loaded.status === 'corrupt' || (recovered !== undefined && sum(recovered) > 0)) {
        log.error({ track: filename, savedAs: loaded.status === 'corrupt' ? loaded.savedAs : undefined, reason: loaded.status === 'corrupt' ? loaded.reason : 'missing', recoveredPlays: recovered === undefined ? 'none: no pristine copy to compare with' : sum(recovered) },
          'metadata file was lost; play counts recovered from the audio, which becomes the new baseline')
      }
    }
    const track: Track = { ...base, meta, plays: sum(meta.segment_play_counts), lastModified: stat.mtime }
    await makePristineCopy(track)
    await store.save(track.meta)
    return track
  }

  /** The current audio becomes the pristine copy; its counts the baseline. */
  async function rebaseline (track: Track, why: string): Promise<void> {
    log.warn({ track: track.filename, why }, 'making a new pristine copy from the current audio')
    track.meta.baseline_play_counts = fitLength(track.meta.segment_play_counts, track.meta.total_segments)
    await makePristineCopy(track)
    await store.save(track.meta)
  }

  async function tryLoad (filename: string): Promise<Track | undefined> {
    const found = await statInside(filename)
    if (found === undefined) return undefined
    try {
      const track = await load(filename, found.path, found.stat)
      tracks.set(filename, track)
      skipped.delete(filename)
      return track
    } catch (err) {
      if (!(err instanceof WavFormatError)) throw err
      if (skipped.get(filename) !== err.message) log.warn({ track: filename, reason: err.message }, 'skipping a file that is not a playable WAV')
      skipped.set(filename, err.message)
      tracks.delete(filename)
      throw new TrackError(422, 'EA_UNPLAYABLE_WAV', `${filename} cannot be played: ${err.message}`)
    }
  }

  return {
    skipped,

    async open (): Promise<void> {
      await mkdir(deps.audioDir, { recursive: true })
      await mkdir(deps.backupDir, { recursive: true })
      realAudioDir = await realpath(deps.audioDir)
      if (deps.demoTrack && !(await readdir(deps.audioDir)).some(isWavName)) {
        await writeDemoTrack(join(deps.audioDir, DEMO_TRACK_NAME))
        log.info({ track: DEMO_TRACK_NAME }, 'AUDIO_DIR had no tracks: wrote a generated demo track')
      }
      await this.sync()
    },

    /** Bring the in-memory list in line with the folder: new files in, removed files out (their metadata stays). */
    async sync (): Promise<Track[]> {
      const names = (await readdir(deps.audioDir)).filter(n => isWavName(n) && invalidTrackName(n) === undefined)
      const present = new Set(names)
      for (const name of tracks.keys()) if (!present.has(name)) tracks.delete(name)
      for (const name of skipped.keys()) if (!present.has(name)) skipped.delete(name)
      for (const name of names) {
        const known = tracks.get(name)
        if (known !== undefined) {
          const found = await statInside(name)
          if (found === undefined) { tracks.delete(name); continue }
          if (found.stat.size === known.meta.file.size) continue
        }
        await tryLoad(name).catch((err: unknown) => { if (!(err instanceof TrackError)) throw err })
      }
      return this.list()
    },

    list (): Track[] {
      return [...tracks.values()].sort((a, b) => a.filename.localeCompare(b.filename))
    },

    /** The track named `filename`, loading it if it appeared since the last sync. */
    async find (filename: string): Promise<Track> {
      const invalid = invalidTrackName(filename)
      if (invalid !== undefined) throw new TrackError(400, 'EA_BAD_FILENAME', `Invalid file name: ${invalid}`)
      const known = tracks.get(filename)
      // One lstat per request: a file removed or replaced while we run must not be served from what we knew of it.
      const found = known === undefined ? undefined : await statInside(filename)
      const track = known !== undefined && found !== undefined && found.stat.size === known.meta.file.size
        ? known
        : await tryLoad(filename)
      if (track === undefined) {
        tracks.delete(filename)
        throw new TrackError(404, 'EA_TRACK_NOT_FOUND', `Track not found: ${filename}`)
      }
      return track
    },

    /** ETag of the audio's current bytes: the track's identity and how many plays shaped it. */
    etag: (track: Track) => `"${track.meta.track_id}-${track.plays}"`,

    /** The file was replaced behind our back: start it over as a new track. */
    async restartAsNew (track: Track): Promise<void> {
      const inspected = await wav.inspect(track.path)
      track.meta = freshMetadata(newTrackInputs(track.filename, inspected))
      track.plays = 0
      track.suspect = false
      track.lastModified = new Date(inspected.mtimeMs)
      await makePristineCopy(track)
      await store.save(track.meta)
    },

    markDirty (track: Track): void { dirty.add(track) },

    /** Make every changed track's metadata durable. */
    async flush (): Promise<number> {
      const batch = [...dirty]
      dirty.clear()
      for (const track of batch) {
        track.meta.updated_at = new Date().toISOString()
        try {
          await store.save(track.meta)
        } catch (err) {
          dirty.add(track)
          throw err
        }
      }
      return batch.length
    }
  }
}

export type Library = ReturnType<typeof createLibrary>

declare module 'fastify' {
  interface FastifyInstance {
    library: Library
  }
}

export default fp(async function libraryPlugin (fastify) {
  const { audioDir, backupDir, segmentDuration, demoTrack } = fastify.config
  const library = createLibrary({ audioDir, backupDir, segmentDuration, demoTrack, ratePercent: fastify.config.degradationRate, store: fastify.metadata, wav: fastify.wav, log: fastify.log })
  await library.open()
  fastify.decorate('library', library)
}, { name: 'library', dependencies: ['config', 'metadata-store', 'wav-io'] })
