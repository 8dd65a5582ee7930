import fp from 'fastify-plugin'
import { constants, type Stats } from 'node:fs'
import { copyFile, lstat, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { WAV_LIMITS, WavFormatError } from '../../lib/riff.js'
import { segmentCount } from '../../lib/wav-format.js'
import { invalidTrackName, isWavName, titleOf } from '../../lib/track-name.js'
import { adoptFlaskMetadata, fitLength, freshMetadata, type TrackMetadata } from '../../lib/track-metadata.js'
import { sum } from '../../lib/track-figures.js'
import { writeDemoTrack } from '../../lib/demo-track.js'
import { diskTrouble, TrackError } from '../../lib/track-error.js'
import { ensureWritableDir } from '../../lib/writable-dir.js'
import { fsyncDir } from '../../lib/atomic-file.js'
import type { MetadataStore } from './metadata-store.js'
import type { WavIo, InspectedFile } from './wav-io.js'
import type { LockManager } from './lock-manager.js'
import { recountFromAudio } from './recount.js'
import { renderWholeTrack, untouchedSegmentsMatch } from './pristine.js'

export { TrackError }
export const DEMO_TRACK_NAME = 'ephemeral-demo.wav'

/**
 * One identity of one file. A new identity (a file replaced, a reset) is a
 * new object with a new id: nothing keyed by the old one can reach the new file.
 */
export interface Track {
  /** The track_id: seeds the decay, names the bytes in ETags and journal records. */
  readonly id: string
  /** The name folded to lower case: names that differ only by case are one track (one metadata file). */
  readonly key: string
  readonly filename: string
  /** Absolute path of the audio, inside AUDIO_DIR. */
  readonly path: string
  /** Absolute path of the pristine copy the audio is rendered from. */
  readonly pristinePath: string
  /** The file this identity belongs to: another inode at the path is another track. */
  readonly inode: { dev: number, ino: number }
  /**
   * The file's mtime after the service's own last write to it. Any other
   * mtime means someone else wrote it (a copy over it in place, or a new file
   * that reuses the inode number): a new track.
   */
  knownMtimeMs: number
  meta: TrackMetadata
  /** Sum of the play counts; with the id it names the audio's current content. */
  plays: number
  lastModified: Date
  /** Its file changed while the service was down (mtime differs, header and size do not). */
  suspect: boolean
  /** Metadata was lost: journal records of the lost identity belong to this one. */
  adoptsJournal: boolean
  /** Replaced by a newer identity or gone: nothing may write for it any more. */
  retired: boolean
}

interface StoreDeps {
  audioDir: string
  backupDir: string
  segmentDuration: number
  /** Write a generated demo track when AUDIO_DIR has no WAV files, so a fresh install plays something. */
  demoTrack: boolean
  ratePercent: number
  /** DECAY_ENGINE: how tracks found on disk decay. */
  engine: string
  store: MetadataStore
  wav: WavIo
  locks: LockManager
  log: FastifyBaseLogger
}

/**
 * How long start-up waits for tracks being prepared before it listens (a
 * small library is then whole at once, a large one is not waited for), and
 * how long GET /tracks waits for files that just appeared.
 */
const START_BUDGET_MS = 400
const PREPARE_BUDGET_MS = 1000

const keyOf = (filename: string) => filename.toLowerCase()
/** A track being deleted: hidden from the scan, and named so a restart can finish the job. */
const DELETING = /^\.deleting-[0-9a-f-]{36}-(.+)$/
/** A pristine copy being made (`makePristineCopy`). */
const TEMP_COPY = /\.[0-9a-f-]{36}\.copy\.tmp$/
/** An upload being decoded, in AUDIO_DIR so that installing it is one rename on the same file system. */
const UPLOADING = /^\.upload-[0-9a-f-]{36}\.wav$/

/**
 * The one owner of what the tracks are. It scans AUDIO_DIR, notices files
 * that appear, change or go (a cheap lstat per request, a scan per listing),
 * and runs every change of identity under the track's write gate, one at a
 * time per name: the pristine copy and the metadata of an identity are made
 * exactly once, and the one current object for a name is handed out. Whoever
 * keeps state per track (open handles, bytes in memory) registers `onRetire`
 * and lets go of it there.
 */
export function createTrackStore (deps: StoreDeps) {
  const { store, wav, locks, log } = deps
  const current = new Map<string, Track>()
  /** Names seen in AUDIO_DIR that are not tracks, and why. */
  const excluded = new Map<string, string>()
  const dirty = new Set<Track>()
  const retireHooks: Array<(track: Track) => Promise<void> | void> = []
  const queue = new Set<string>()
  const progress = { queued: 0, prepared: 0 }
  let worker: Promise<void> | undefined
  let closed = false
  let found: string[] = []
  /** Segments the journal left from earlier runs (segment → count), per name: a suspect file's check allows for them. */
  let replays = new Map<string, Map<number, number>>()

  /** A regular file at `name` (never a symbolic link: it would alias another track or leave the folder). */
  async function statOf (filename: string): Promise<Stats | 'link' | undefined> {
    try {
      const stat = await lstat(join(deps.audioDir, filename))
      if (stat.isSymbolicLink()) return 'link'
      return stat.isFile() ? stat : undefined
    } catch {
      return undefined
    }
  }

  const sameFile = (track: Track, stat: Stats) =>
    track.inode.ino === stat.ino && track.inode.dev === stat.dev && track.meta.file.size === stat.size && track.knownMtimeMs === stat.mtimeMs && stat.nlink === 1

  async function makePristineCopy (path: string, pristinePath: string): Promise<void> {
    const staged = await stagePristineCopy(path, pristinePath)
    try {
      await rename(staged, pristinePath)
    } catch (err) {
      await rm(staged, { force: true })
      throw err
    }
  }

  /** A durable copy of `path` beside `pristinePath`, under a name of its own: two preparations never share a temporary file. */
  async function stagePristineCopy (path: string, pristinePath: string): Promise<string> {
    const temporary = `${pristinePath}.${randomUUID()}.copy.tmp`
    try {
      await copyFile(path, temporary, constants.COPYFILE_FICLONE)
      const handle = await open(temporary, 'r')
      try { await handle.sync() } finally { await handle.close() }
      return temporary
    } catch (err) {
      await rm(temporary, { force: true })
      throw err
    }
  }

  function inputsOf (filename: string, inspected: InspectedFile, stat: Stats) {
    const totalSegments = segmentCount(inspected.layout, deps.segmentDuration)
    if (totalSegments > WAV_LIMITS.maxSegments) {
      throw new WavFormatError('WAV_TOO_LONG', `it would have ${totalSegments} segments of ${deps.segmentDuration} s; the service plays at most ${WAV_LIMITS.maxSegments}`)
    }
    if (totalSegments === 0) throw new WavFormatError('WAV_TOO_LONG', 'it holds no audio frames')
    return {
      filename,
      title: titleOf(filename),
      layout: inspected.layout,
      segmentDuration: deps.segmentDuration,
      totalSegments,
      file: { size: inspected.size, mtime_ms: inspected.mtimeMs, ino: stat.ino },
      engine: deps.engine
    }
  }

  function trackOf (filename: string, meta: TrackMetadata, stat: Stats, extra: Partial<Pick<Track, 'suspect' | 'adoptsJournal'>> = {}): Track {
    return {
      id: meta.track_id,
      key: keyOf(filename),
      filename,
      path: join(deps.audioDir, filename),
      pristinePath: join(deps.backupDir, filename),
      inode: { dev: stat.dev, ino: stat.ino },
      knownMtimeMs: stat.mtimeMs,
      meta,
      plays: sum(meta.segment_play_counts),
      lastModified: stat.mtime,
      suspect: extra.suspect ?? false,
      adoptsJournal: extra.adoptsJournal ?? false,
      retired: false
    }
  }

  /** A new identity for the file as it is now: fresh counts, its own pristine copy, durable metadata. */
  async function createIdentity (filename: string, stat: Stats, meta: TrackMetadata, adoptsJournal = false): Promise<Track> {
    const track = trackOf(filename, meta, stat, { adoptsJournal })
    await makePristineCopy(track.path, track.pristinePath)
    await store.save(meta)
    return track
  }

  /** Build the track for a file seen for the first time since start-up (or replaced while running, `replacing`). */
  async function prepare (filename: string, stat: Stats, replacing: Track | undefined, otherCaseIsAnotherFile = false): Promise<Track> {
    const path = join(deps.audioDir, filename)
    const pristinePath = join(deps.backupDir, filename)
    if (replacing !== undefined || otherCaseIsAnotherFile) {
      if (replacing !== undefined) log.warn({ track: filename, plays: replacing.plays }, 'audio file was replaced while the service runs: it is a new track')
      const inspected = await wav.inspect(path)
      return await createIdentity(filename, stat, freshMetadata(inputsOf(filename, inspected, stat)))
    }
    const loaded = await store.load(filename)
    if (loaded.status === 'ours' && loaded.metadata.filename !== filename) {
      // The same name in another case: this file's metadata only if it is the same file (renamed by case).
      const m = loaded.metadata
      if (m.file.ino !== stat.ino || m.file.size !== stat.size) return await prepare(filename, stat, undefined, true)
      log.info({ track: filename, was: m.filename }, 'track renamed by case: its metadata and pristine copy follow it')
      await rename(join(deps.backupDir, m.filename), pristinePath).catch(() => {})
      const renamed = { ...m, filename, title: m.title === titleOf(m.filename) ? titleOf(filename) : m.title }
      await store.save(renamed)
      await store.remove(m.filename)
      // A stop may have cut our own writes short (the mtime moved): resume tells them from an edit, as for any name.
      return await resume(trackOf(filename, renamed, stat, { suspect: m.file.mtime_ms !== stat.mtimeMs }))
    }
    if (loaded.status === 'ours') {
      const m = loaded.metadata
      // Recorded before this version (no inode): size and header decide, as they did.
      const sameInode = m.file.ino === undefined || m.file.ino === stat.ino
      if (sameInode && m.file.size === stat.size && m.file.mtime_ms === stat.mtimeMs) {
        return await resume(trackOf(filename, { ...m, file: { ...m.file, ino: stat.ino } }, stat))
      }
      const inspected = await wav.inspect(path)
      const inputs = inputsOf(filename, inspected, stat)
      const same = sameInode && m.file.size === inspected.size && JSON.stringify(m.layout) === JSON.stringify(inspected.layout)
      // Only the mtime moved: our own unfinished writes before a crash, or a hand edit. Recovery checks which.
      if (same) return await resume(trackOf(filename, { ...m, file: inputs.file }, stat, { suspect: true }))
      log.warn({ track: filename, plays: sum(m.segment_play_counts) }, 'audio file was replaced while the service was down: starting it as a new track')
      return await createIdentity(filename, stat, freshMetadata(inputs))
    }
    const inspected = await wav.inspect(path)
    const inputs = inputsOf(filename, inspected, stat)
    if (loaded.status === 'flask') {
      log.info({ track: filename }, 'adopting metadata from the Flask service: its counts are the baseline')
      return await createIdentity(filename, stat, adoptFlaskMetadata(loaded.legacy, inputs))
    }
    const meta = freshMetadata(inputs)
    // Metadata lost (unreadable, or deleted) but the pristine copy survives: read the counts back from the damage.
    const recovered = await recountFromAudio(wav, { audio: path, pristine: pristinePath }, inspected.layout, deps.segmentDuration, inputs.totalSegments, deps.ratePercent)
    if (recovered !== undefined) {
      meta.segment_play_counts = recovered
      meta.baseline_play_counts = [...recovered]
    }
    if (loaded.status === 'corrupt' || (recovered !== undefined && sum(recovered) > 0)) {
      log.error({ track: filename, savedAs: loaded.status === 'corrupt' ? loaded.savedAs : undefined, reason: loaded.status === 'corrupt' ? loaded.reason : 'missing', recoveredPlays: recovered === undefined ? 'none: no pristine copy to compare with' : sum(recovered) },
        'metadata file was lost; play counts recovered from the audio, which becomes the new baseline')
    }
    return await createIdentity(filename, stat, meta, loaded.status === 'corrupt' || recovered !== undefined)
  }

  /**
   * Carry on with metadata we wrote: finish a reset a stop interrupted, make
   * a new pristine copy if it is gone, and tell our own unfinished writes from
   * a hand edit when the file's mtime moved while the service was down.
   */
  async function resume (track: Track): Promise<Track> {
    const m = track.meta
    const pristineSize = await lstat(track.pristinePath).then(s => s.size, () => -1)
    if (pristineSize !== m.file.size) {
      log.warn({ track: track.filename }, 'its pristine copy is missing: making a new one from the current audio')
      m.baseline_play_counts = fitLength(m.segment_play_counts, m.total_segments)
      delete m.reset_pending
      await makePristineCopy(track.path, track.pristinePath)
      await store.save(m)
      return track
    }
    if (m.reset_pending === true) {
      log.warn({ track: track.filename }, 'finishing a whole-track change a stop interrupted: rendering the audio again at its counts')
      const stat = await renderWholeTrack(wav, track, deps.ratePercent)
      delete m.reset_pending
      m.file = { size: stat.size, mtime_ms: stat.mtimeMs, ino: stat.ino }
      track.knownMtimeMs = stat.mtimeMs
      track.suspect = false
      await store.save(m)
      return track
    }
    if (!track.suspect) return track
    if (!await untouchedSegmentsMatch(wav, track, replays.get(track.key) ?? new Map(), deps.ratePercent)) {
      log.warn({ track: track.filename }, 'audio file was edited while the service was down: starting it as a new track')
      const stat = await lstat(track.path)
      const inspected = await wav.inspect(track.path)
      return await createIdentity(track.filename, stat, freshMetadata(inputsOf(track.filename, inspected, stat)))
    }
    // Our own writes (or a touch): record the file as it is so the next start trusts it at once.
    track.suspect = false
    await store.save(m)
    return track
  }

  /**
   * End an identity: nothing may write for it from now on, its state is let
   * go of (the hooks sync and close its files), and its metadata is saved as
   * it ends, so a file moved away and back, or renamed, keeps its plays.
   */
  async function retire (track: Track, save = true): Promise<void> {
    if (track.retired) return
    track.retired = true
    dirty.delete(track)
    if (current.get(track.key) === track) current.delete(track.key)
    for (const hook of retireHooks) await hook(track)
    if (!save) return
    track.meta.updated_at = new Date().toISOString()
    await store.save(track.meta)
  }

  /** Under the track's gate: refuse (409) when it is no longer the current identity of an unchanged file. */
  async function checkUnchanged (track: Track): Promise<void> {
    const stat = await statOf(track.filename)
    if (track.retired || current.get(track.key) !== track || stat === undefined || stat === 'link' || !sameFile(track, stat)) {
      throw new TrackError(409, 'EA_TRACK_CHANGED', `${track.filename} changed on disk while the request ran; try again`)
    }
  }

  /** Finish deletions a stop interrupted: the audio was moved to `.deleting-<uuid>-<name>` first, the rest follows. */
  async function finishDeletions (): Promise<void> {
    for (const entry of await readdir(deps.audioDir)) {
      const match = DELETING.exec(entry)
      if (match?.[1] === undefined) continue
      const name = match[1]
      if (await statOf(name) === undefined) {
        await rm(join(deps.backupDir, name), { force: true })
        await store.remove(name)
      }
      await rm(join(deps.audioDir, entry), { force: true })
      log.warn({ track: name }, 'finished a deletion that a stop interrupted')
    }
  }

  /** Undo `renew`: `old` is the track again, its audio rendered at its counts. Under the name's gate. */
  async function rollBack (old: Track, next: Track): Promise<void> {
    try {
      // Durable first: should the rendering fail too, the next start renders it.
      await store.save({ ...old.meta, reset_pending: true })
    } catch (err) {
      log.error({ err, track: old.filename }, 'cannot roll back a failed whole-track change; the next start finishes it')
      return
    }
    next.retired = true
    old.retired = false
    current.set(old.key, old)
    // The failed change wrote into the file: those writes were ours (the gate is held), not someone else's.
    const stat = await statOf(old.filename)
    if (stat !== undefined && stat !== 'link' && stat.ino === old.inode.ino && stat.dev === old.inode.dev) old.knownMtimeMs = stat.mtimeMs
    try {
      const stat = await renderWholeTrack(wav, old, deps.ratePercent, old.inode)
      old.knownMtimeMs = stat.mtimeMs
      old.meta.file = { size: stat.size, mtime_ms: stat.mtimeMs, ino: stat.ino }
      await store.save(old.meta)
    } catch (err) {
      old.meta.reset_pending = true
      log.error({ err, track: old.filename }, 'rolled back a failed whole-track change; its audio is rendered again at the next start')
    }
  }

  /** Why `filename` cannot be a track beside the others, or undefined. Runs under the name's gate. */
  async function conflictOf (filename: string, stat: Stats): Promise<string | undefined> {
    const same = current.get(keyOf(filename))
    if (same !== undefined && same.filename !== filename) {
      if (await statOf(same.filename) !== undefined) return `its name differs only in case from ${same.filename}, which is already a track (one metadata file per name)`
      await retire(same)
    }
    for (const other of current.values()) {
      if (other.key !== keyOf(filename) && other.inode.ino === stat.ino && other.inode.dev === stat.dev) return `it is a hard link to ${other.filename}`
    }
    return undefined
  }

  function exclude (filename: string, reason: string, level: 'warn' | 'error' = 'warn'): void {
    if (excluded.get(filename) !== reason) log[level]({ track: filename, reason }, 'not serving a file in AUDIO_DIR')
    excluded.set(filename, reason)
  }

  /**
   * Bring one name in line with the folder: the current track when its file
   * is unchanged, a new identity when it appeared or was replaced, nothing
   * when it went. The one place identities change; serialised per name.
   */
  async function refresh (filename: string): Promise<Track | undefined> {
    const key = keyOf(filename)
    return await locks.track(key, async () => {
      const known = current.get(key)
      const stat = await statOf(filename)
      if (stat === undefined || stat === 'link') {
        if (known?.filename === filename) await retire(known)
        if (stat === 'link') exclude(filename, 'it is a symbolic link; only regular files are tracks')
        else excluded.delete(filename)
        return undefined
      }
      if (known !== undefined && known.filename === filename && sameFile(known, stat)) return known
      const conflict = await conflictOf(filename, stat) ??
        (stat.nlink > 1 ? `it has ${stat.nlink - 1} other hard link(s): a play would change those files too` : undefined)
      if (conflict !== undefined) {
        // Served until now (a hard link made since): no longer.
        if (known?.filename === filename) await retire(known)
        exclude(filename, conflict)
        return undefined
      }
      const replacing = current.get(key)
      if (replacing !== undefined) await retire(replacing)
      try {
        const track = await prepare(filename, stat, replacing)
        current.set(key, track)
        excluded.delete(filename)
        return track
      } catch (err) {
        if (err instanceof WavFormatError) {
          exclude(filename, `not a playable WAV: ${err.message}`)
          throw new TrackError(422, 'EA_UNPLAYABLE_WAV', `${filename} cannot be played: ${err.message}`)
        }
        const trouble = diskTrouble(err)
        if (trouble !== undefined) {
          exclude(filename, `cannot be prepared: ${trouble.message}`, 'error')
          throw trouble
        }
        throw err
      }
    })
  }

  function schedule (names: Iterable<string>): void {
    for (const name of names) {
      if (queue.has(name)) continue
      queue.add(name)
      progress.queued++
    }
    worker ??= work()
  }

  /** Prepare queued names one at a time, off the request path. */
  async function work (): Promise<void> {
    let lastReport = Date.now()
    try {
      for (;;) {
        const name = first(queue)
        if (name === undefined || isClosed()) break
        try {
          await refresh(name)
        } catch (err) {
          if (!(err instanceof TrackError)) log.error({ err, track: name }, 'could not prepare a track')
        }
        queue.delete(name)
        progress.prepared++
        if (Date.now() - lastReport > 2000) {
          lastReport = Date.now()
          log.info({ prepared: progress.prepared, of: progress.queued }, 'preparing tracks')
        }
      }
      if (progress.queued > 0 && queue.size === 0) log.info({ prepared: progress.prepared }, 'every track is prepared')
    } finally {
      worker = undefined
    }
  }

  /** Wait up to `ms` for the queue to empty. */
  async function settle (ms: number): Promise<void> {
    const running = worker
    if (running === undefined) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([running, new Promise(resolve => { timer = setTimeout(resolve, ms) })])
    clearTimeout(timer)
  }

  const isClosed = () => closed

  /** The names in AUDIO_DIR that can be tracks; WAV files whose names cannot are excluded, saying why. */
  async function wavNames (): Promise<string[]> {
    const names = (await readdir(deps.audioDir)).filter(isWavName).sort()
    return names.filter(name => {
      const invalid = invalidTrackName(name)
      if (invalid !== undefined && !name.startsWith('.')) exclude(name, invalid)
      return invalid === undefined
    })
  }

  return {
    excluded,
    progress,

    /** Register what must let go of a track's state when its identity ends. */
    onRetire (hook: (track: Track) => Promise<void> | void): void { retireHooks.push(hook) },

    /** Scan AUDIO_DIR (nothing is prepared yet: see `startPreparing`). */
    async open (): Promise<void> {
      // Plays degrade the audio files in place: AUDIO_DIR must be writable too.
      await ensureWritableDir(deps.audioDir, 'AUDIO_DIR')
      await ensureWritableDir(deps.backupDir, 'BACKUP_DIR')
      await finishDeletions()
      // Pristine copies and uploads a stop cut short: each a whole track's size.
      for (const entry of await readdir(deps.backupDir)) {
        if (TEMP_COPY.test(entry)) await rm(join(deps.backupDir, entry), { force: true })
      }
      for (const entry of await readdir(deps.audioDir)) {
        if (UPLOADING.test(entry)) await rm(join(deps.audioDir, entry), { force: true })
      }
      found = await wavNames()
      if (deps.demoTrack && found.length === 0) {
        await writeDemoTrack(join(deps.audioDir, DEMO_TRACK_NAME))
        log.info({ track: DEMO_TRACK_NAME }, 'AUDIO_DIR had no tracks: wrote a generated demo track')
        found.push(DEMO_TRACK_NAME)
      }
    },

    /** The name a file has in AUDIO_DIR now, in whatever case (recovery's records may name it in another). */
    nameInFolder (filename: string): string | undefined {
      return found.find(name => keyOf(name) === keyOf(filename))
    },

    /** Segments of each track that the journal is about to replay (recovery tells, before it asks for the tracks). */
    expectReplays (segments: Map<string, Map<number, number>>): void {
      replays = new Map([...segments].map(([name, s]) => [keyOf(name), s]))
    },

    /** Prepare every track found at start: for a moment, then in the background, so start-up never waits on the library's size. */
    async startPreparing (): Promise<void> {
      schedule(found)
      found = []
      await settle(START_BUDGET_MS)
      replays = new Map()
      if (queue.size > 0) log.info({ ready: current.size, preparing: queue.size }, 'listening while tracks are prepared in the background')
    },

    /** Bring the tracks in line with the folder (new, changed, removed), waiting a moment for new ones. */
    async sync (): Promise<Track[]> {
      const entries = new Set(await readdir(deps.audioDir))
      for (const name of excluded.keys()) if (!entries.has(name)) excluded.delete(name)
      const names = await wavNames()
      const changed: string[] = []
      for (const track of current.values()) if (!entries.has(track.filename)) changed.push(track.filename)
      for (const name of names) {
        const known = current.get(keyOf(name))
        if (known === undefined || known.filename !== name) {
          if (!excluded.has(name) || known === undefined) changed.push(name)
          continue
        }
        const stat = await statOf(name)
        if (stat === undefined || stat === 'link' || !sameFile(known, stat)) changed.push(name)
      }
      if (changed.length > 0) {
        schedule(changed)
        await settle(PREPARE_BUDGET_MS)
      }
      return this.list()
    },

    list (): Track[] {
      return [...current.values()].sort((a, b) => a.filename.localeCompare(b.filename))
    },

    /** Names still waiting to be prepared (those prepared on demand meanwhile are not). */
    get preparing (): number {
      let waiting = 0
      for (const name of queue) if (current.get(keyOf(name))?.filename !== name && !excluded.has(name)) waiting++
      return waiting
    },

    /** The current track named `filename`: one lstat, and a refresh when the file is new or changed. */
    async get (filename: string): Promise<Track> {
      const invalid = invalidTrackName(filename)
      if (invalid !== undefined) throw new TrackError(400, 'EA_BAD_FILENAME', `Invalid file name: ${invalid}`)
      const known = current.get(keyOf(filename))
      const stat = known?.filename === filename ? await statOf(filename) : undefined
      const track = known !== undefined && stat !== undefined && stat !== 'link' && sameFile(known, stat)
        ? known
        : await refresh(filename)
      if (track === undefined) {
        const why = excluded.get(filename)
        throw new TrackError(404, 'EA_TRACK_NOT_FOUND', why === undefined ? `Track not found: ${filename}` : `Track not found: ${filename}: ${why}`)
      }
      return track
    },

    /** Whether `track` is still the identity its name stands for. */
    isCurrent: (track: Track) => !track.retired && current.get(track.key) === track,

    /** ETag of the audio's current bytes: the track's identity and how many plays shaped it. */
    etag: (track: Track) => `"${track.id}-${track.plays}"`,

    /**
     * Swap `track` for a new identity of the same file, made by `make` from
     * it (a reset). Runs under the track's write gate; the old identity is
     * retired before the new one is installed. Should `apply` fail, the old
     * identity comes back, its audio rendered again at its counts, unless its
     * metadata cannot be saved, in which case the new one stays (its metadata
     * asks the next start to finish the rendering).
     */
    async renew (track: Track, make: (old: Track) => TrackMetadata, apply: (next: Track) => Promise<void>): Promise<Track> {
      return await locks.track(track.key, async () => {
        await checkUnchanged(track)
        const meta = make(track)
        const next: Track = { ...track, id: meta.track_id, meta, plays: sum(meta.segment_play_counts), retired: false, suspect: false, adoptsJournal: false }
        await retire(track)
        current.set(next.key, next)
        try {
          await apply(next)
        } catch (err) {
          await rollBack(track, next)
          throw err
        }
        return next
      })
    },

    /** A fresh path in AUDIO_DIR for an upload to be written to (hidden from the scan, removed at start if left). */
    uploadPath: () => join(deps.audioDir, `.upload-${randomUUID()}.wav`),

    /**
     * Install the finished WAV at `temp` as the track `filename`: a new track,
     * or a new identity for an existing one (fresh counts). The rename into
     * place is the commit point: before it nothing changed, after it the file
     * is the track's, and a stop before its metadata is saved makes it a new
     * track at the next start. `temp` is removed when refused.
     */
    async install (filename: string, temp: string, options: { mustBeNew: boolean, engine?: { id: string, params: Record<string, number> } }): Promise<{ track: Track, created: boolean }> {
      const key = keyOf(filename)
      return await locks.track(key, async () => {
        let existing: Stats | 'link' | undefined
        try {
          const known = current.get(key)
          if (known !== undefined && known.filename !== filename) {
            throw new TrackError(409, 'EA_NAME_TAKEN', `${known.filename} is already a track; names that differ only in case are one name: upload to ${known.filename} to replace it`)
          }
          existing = await statOf(filename)
          if (existing !== undefined && options.mustBeNew) throw new TrackError(412, 'EA_TRACK_EXISTS', `${filename} already exists (If-None-Match: *)`)
          if (existing === 'link') throw new TrackError(409, 'EA_NAME_TAKEN', `${filename} is a symbolic link in AUDIO_DIR; remove it first`)
          if (known !== undefined) await retire(known)
          await rename(temp, join(deps.audioDir, filename))
          await fsyncDir(deps.audioDir)
        } catch (err) {
          await rm(temp, { force: true })
          throw err
        }
        const stat = await lstat(join(deps.audioDir, filename))
        const inspected = await wav.inspect(join(deps.audioDir, filename))
        const engine = options.engine === undefined ? {} : { engine: options.engine.id, engineParams: options.engine.params }
        const track = await createIdentity(filename, stat, freshMetadata({ ...inputsOf(filename, inspected, stat), ...engine }))
        current.set(key, track)
        excluded.delete(filename)
        log.info({ track: filename, frames: inspected.layout.frames, engine: options.engine?.id }, 'track uploaded')
        return { track, created: existing === undefined }
      })
    },

    /**
     * A consistent view of `track` for a backup: its metadata as it is
     * between plays (taken under the gate) and an open handle on its pristine
     * copy, which never changes for an identity.
     */
    async snapshot (track: Track): Promise<{ metadata: TrackMetadata, pristine: FileHandle, size: number } | undefined> {
      return await locks.track(track.key, async () => {
        if (!this.isCurrent(track)) return undefined
        const pristine = await open(track.pristinePath, 'r')
        const { size } = await pristine.stat()
        return { metadata: structuredClone(track.meta), pristine, size }
      })
    },

    /**
     * Restore a track from a backup: its pristine audio (`pristineFile`,
     * already verified) and its metadata, identity and counts included; its
     * audio is rendered from them. In `merge` mode a name that exists is left
     * alone (returns false). The rename of the rendered audio into AUDIO_DIR
     * is the commit point, after the pristine copy and the metadata.
     */
    async restore (metadata: TrackMetadata, pristineFile: string, mode: 'merge' | 'replace'): Promise<boolean> {
      const filename = metadata.filename
      const key = keyOf(filename)
      return await locks.track(key, async () => {
        const known = current.get(key)
        const existing = await statOf(filename)
        if (mode === 'merge' && (known !== undefined || existing !== undefined)) return false
        if (known !== undefined && known.filename !== filename && mode === 'replace') await retire(known)
        const temp = join(deps.audioDir, `.upload-${randomUUID()}.wav`)
        let stagedPristine: string | undefined
        try {
          // Everything that takes space first: a full disk then leaves the existing track as it was.
          await copyFile(pristineFile, temp, constants.COPYFILE_FICLONE)
          const meta: TrackMetadata = { ...metadata, segment_duration: metadata.segment_duration }
          const rendered = await renderWholeTrack(wav, { path: temp, pristinePath: pristineFile, meta }, deps.ratePercent)
          meta.file = { size: rendered.size, mtime_ms: rendered.mtimeMs, ino: rendered.ino }
          delete meta.reset_pending
          stagedPristine = await stagePristineCopy(pristineFile, join(deps.backupDir, filename))
          if (known !== undefined) await retire(known, false)
          await rename(stagedPristine, join(deps.backupDir, filename))
          stagedPristine = undefined
          await store.save(meta)
          await rename(temp, join(deps.audioDir, filename))
          await fsyncDir(deps.audioDir)
          const stat = await lstat(join(deps.audioDir, filename))
          current.set(key, trackOf(filename, meta, stat))
          excluded.delete(filename)
          return true
        } finally {
          await rm(temp, { force: true })
          if (stagedPristine !== undefined) await rm(stagedPristine, { force: true })
        }
      })
    },

    /**
     * Delete the track for good: its audio, pristine copy and metadata. The
     * audio leaves AUDIO_DIR first, in one rename (the intent); a stop after
     * that is finished at the next start.
     */
    async remove (track: Track): Promise<void> {
      await locks.track(track.key, async () => {
        await checkUnchanged(track)
        const trash = join(deps.audioDir, `.deleting-${randomUUID()}-${track.filename}`)
        await rename(track.path, trash)
        await fsyncDir(deps.audioDir)
        await retire(track, false)
        await rm(track.pristinePath, { force: true })
        await store.remove(track.filename)
        await rm(trash, { force: true })
        excluded.delete(track.filename)
      })
    },

    /** Change the track's metadata (not its identity), durably, under its gate. */
    async update (track: Track, change: (meta: TrackMetadata) => void): Promise<void> {
      await locks.track(track.key, async () => {
        await checkUnchanged(track)
        change(track.meta)
        track.meta.updated_at = new Date().toISOString()
        await store.save(track.meta)
      })
    },

    /** A file whose audio no longer matches its identity (edited while down): it starts over as a new track. */
    async restartAsNew (track: Track): Promise<Track> {
      const stat = await lstat(track.path)
      await retire(track)
      const inspected = await wav.inspect(track.path)
      const next = await createIdentity(track.filename, stat, freshMetadata(inputsOf(track.filename, inspected, stat)))
      current.set(next.key, next)
      return next
    },

    markDirty (track: Track): void {
      if (!track.retired) dirty.add(track)
    },

    /** Make every changed current track's metadata durable; a retired identity is never written. */
    async flush (): Promise<number> {
      const batch = [...dirty]
      dirty.clear()
      for (const track of batch) {
        if (track.retired) continue
        track.meta.updated_at = new Date().toISOString()
        try {
          await store.save(track.meta)
        } catch (err) {
          dirty.add(track)
          throw err
        }
      }
      return batch.length
    },

    async close (): Promise<void> {
      closed = true
      await worker
    }
  }
}

function first<T> (set: Set<T>): T | undefined {
  return set.values().next().value
}

export type TrackStore = ReturnType<typeof createTrackStore>

declare module 'fastify' {
  interface FastifyInstance {
    tracks: TrackStore
  }
}

export default fp(async function trackStorePlugin (fastify) {
  const { audioDir, backupDir, segmentDuration, demoTrack, degradationRate, decayEngine } = fastify.config
  const tracks = createTrackStore({ audioDir, backupDir, segmentDuration, demoTrack, ratePercent: degradationRate, engine: decayEngine, store: fastify.metadata, wav: fastify.wav, locks: fastify.locks, log: fastify.log })
  fastify.decorate('tracks', tracks)
  fastify.addHook('onClose', async () => await tracks.close())
  await tracks.open()
}, { name: 'track-store', dependencies: ['config', 'metadata-store', 'wav-io', 'lock-manager'] })
