import fp from 'fastify-plugin'
import type { FileHandle } from 'node:fs/promises'
import { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { ByteRange } from '../../lib/range.js'
import { segmentSpan } from '../../lib/wav-format.js'
import type { Track } from './track-store.js'
import type { WavIo } from './wav-io.js'

export interface TrackCacheOptions {
  /** Bytes of audio kept in memory, all tracks together. */
  maxBytes: number
  /** Larger tracks are always read from disk. */
  maxTrackBytes: number
  /** Requests a track gets before it is read into memory, so a one-off probe never costs a whole file. */
  admitAfter: number
  /** Read handles kept open for tracks streamed from disk. */
  maxOpenFiles: number
  /** Bytes per read when streaming from disk. */
  readChunk: number
}

export const DEFAULT_TRACK_CACHE: TrackCacheOptions = {
  maxBytes: 96 * 1024 * 1024,
  maxTrackBytes: 48 * 1024 * 1024,
  admitAfter: 2,
  maxOpenFiles: 64,
  readChunk: 256 * 1024
}

/** A track's bytes in memory, cut at its segment boundaries so that a play rewrites exactly one piece. */
interface Entry {
  trackId: string
  size: number
  /** Offset of each piece in the file, ascending; starts[0] is 0. */
  starts: number[]
  pieces: Buffer[]
}

/** Whoever sends slices of the pieces: they are its until it emits 'close' (a ServerResponse does once it is done). */
export interface SliceHolder {
  once (event: 'close', listener: () => void): unknown
}

interface Loading {
  /** Writes that happened while the file was being read: applied, in order, before the entry is used. */
  patches: Array<{ position: number, data: Buffer }>
  done: Promise<void>
}

interface OpenFile {
  handle: Promise<FileHandle>
  users: number
  /** Its track's identity ended: the last reply to finish closes it. */
  retired?: boolean
}

/**
 * The bytes of the tracks being listened to, kept coherent with the degrader:
 * hot tracks are served from memory (no read, no open, no copy), the others
 * through one shared read handle per track with positioned reads. The
 * degrader reports every write it makes to a track's file (`write`), under
 * the same segment lock, so memory never serves audio the file no longer has.
 */
export function createTrackCache (wav: WavIo, options: Partial<TrackCacheOptions> = {}) {
  const o = { ...DEFAULT_TRACK_CACHE, ...options }
  if (o.maxTrackBytes > o.maxBytes) throw new RangeError('track cache: maxTrackBytes must not exceed maxBytes')
  // Map order is the LRU order: the least recently used first.
  const entries = new Map<Track, Entry>()
  const loads = new Map<Track, Loading>()
  const requests = new WeakMap<Track, number>()
  const files = new Map<Track, OpenFile>()
  // Pieces that replies are sending: a write must not change them under the reply, so it puts a copy in their place.
  const lent = new WeakMap<Buffer, number>()
  const stats = { hits: 0, misses: 0, loads: 0, evictions: 0, bytes: 0 }
  let closed = false

  function valid (track: Track, entry: Entry): boolean {
    return entry.trackId === track.meta.track_id && entry.size === track.meta.file.size
  }

  function entryOf (track: Track): Entry | undefined {
    const entry = entries.get(track)
    if (entry === undefined) return undefined
    if (!valid(track, entry)) {
      drop(track)
      return undefined
    }
    // Most recently used goes last.
    entries.delete(track)
    entries.set(track, entry)
    return entry
  }

  function drop (track: Track): void {
    const entry = entries.get(track)
    if (entry !== undefined) {
      entries.delete(track)
      stats.bytes -= entry.size
    }
    loads.delete(track)
  }

  /** Index of the piece holding byte `position`. */
  function pieceAt (entry: Entry, position: number): number {
    let low = 0
    let high = entry.starts.length - 1
    while (low < high) {
      const mid = (low + high + 1) >>> 1
      if ((entry.starts[mid] as number) <= position) low = mid
      else high = mid - 1
    }
    return low
  }

  /** Copy `data` in at `position`: into the pieces themselves when no reply holds them, into fresh copies otherwise. */
  function patch (entry: Entry, position: number, data: Buffer): void {
    const end = Math.min(position + data.length, entry.size)
    for (let i = pieceAt(entry, position); i < entry.pieces.length && (entry.starts[i] as number) < end; i++) {
      const start = entry.starts[i] as number
      let piece = entry.pieces[i] as Buffer
      if ((lent.get(piece) ?? 0) > 0) {
        const copy = Buffer.allocUnsafeSlow(piece.length)
        piece.copy(copy)
        entry.pieces[i] = piece = copy
      }
      const from = Math.max(start, position)
      const to = Math.min(start + piece.length, end)
      data.copy(piece, from - start, from - position, to - position)
    }
  }

  /** Mark the pieces as being sent until `holder` closes; without a holder they stay lent for good (safe, only slower). */
  function lend (pieces: Buffer[], holder: SliceHolder | undefined): void {
    for (const piece of pieces) lent.set(piece, (lent.get(piece) ?? 0) + 1)
    holder?.once('close', () => {
      for (const piece of pieces) lent.set(piece, (lent.get(piece) ?? 1) - 1)
    })
  }

  /** Piece boundaries: the header, one piece per segment, whatever follows the frames. */
  function layoutOf (track: Track): { starts: number[], lengths: number[] } {
    const m = track.meta
    const size = m.file.size
    const points = new Set<number>([0, m.layout.dataOffset, m.layout.dataOffset + m.layout.frames * m.layout.format.blockAlign])
    for (let k = 0; k < m.total_segments; k++) points.add(segmentSpan(m.layout, m.segment_duration, k).byteOffset)
    const starts = [...points].filter(p => p >= 0 && p < size).sort((a, b) => a - b)
    const lengths = starts.map((s, i) => (starts[i + 1] ?? size) - s)
    return { starts, lengths }
  }

  async function load (track: Track, loading: Loading): Promise<void> {
    const trackId = track.meta.track_id
    const size = track.meta.file.size
    const { starts, lengths } = layoutOf(track)
    const pieces = lengths.map(n => Buffer.allocUnsafeSlow(n))
    const file = await wav.openForRead(track.path)
    try {
      await readInto(file, pieces)
    } finally {
      await file.close()
    }
    // Dropped or replaced while reading (a failed write, a new track_id): not ours to install.
    if (closed || loads.get(track) !== loading || track.meta.track_id !== trackId || track.meta.file.size !== size) return
    const entry = { trackId, size, starts, pieces }
    for (const { position, data } of loading.patches) patch(entry, position, data)
    loads.delete(track)
    entries.set(track, entry)
    stats.bytes += size
    stats.loads++
    for (const [old, e] of entries) {
      if (stats.bytes <= o.maxBytes) break
      entries.delete(old)
      stats.bytes -= e.size
      stats.evictions++
    }
  }

  function admit (track: Track): void {
    const size = track.meta.file.size
    if (closed || size > o.maxTrackBytes || loads.has(track)) return
    const seen = (requests.get(track) ?? 0) + 1
    requests.set(track, seen)
    if (seen < o.admitAfter) return
    requests.delete(track)
    const loading: Loading = { patches: [], done: Promise.resolve() }
    loads.set(track, loading)
    loading.done = load(track, loading).catch(() => {
      // A file that cannot be read is streamed from disk, which reports the error to the client.
      if (loads.get(track) === loading) loads.delete(track)
    })
  }

  function slicesOf (track: Track, range: ByteRange): { slices: Buffer[], pieces: Buffer[] } | undefined {
    const entry = entryOf(track)
    if (entry === undefined) {
      stats.misses++
      admit(track)
      return undefined
    }
    stats.hits++
    const slices: Buffer[] = []
    const pieces: Buffer[] = []
    for (let i = pieceAt(entry, range.start), position = range.start; position <= range.end; i++) {
      const start = entry.starts[i] as number
      const piece = entry.pieces[i] as Buffer
      const from = position - start
      const to = Math.min(piece.length, range.end + 1 - start)
      slices.push(from === 0 && to === piece.length ? piece : piece.subarray(from, to))
      pieces.push(piece)
      position = start + to
    }
    return { slices, pieces }
  }

  function openFile (track: Track): OpenFile {
    let file = files.get(track)
    if (file === undefined) {
      file = { handle: wav.openForRead(track.path), users: 0 }
      const opened = file
      opened.handle.catch(() => { if (files.get(track) === opened) files.delete(track) })
      files.set(track, file)
      // Close the least recently opened idle handles beyond the limit.
      for (const [other, f] of files) {
        if (files.size <= o.maxOpenFiles) break
        if (f.users > 0 || other === track) continue
        files.delete(other)
        f.handle.then(async h => await h.close(), () => {}).catch(() => {})
      }
    }
    file.users++
    return file
  }

  return {
    stats,

    /**
     * The bytes of `range` as slices of memory, or undefined when the track is
     * not in memory (it may be loaded for next time). The slices do not change
     * until `holder` closes, whatever is written meanwhile.
     */
    read (track: Track, range: ByteRange, holder?: SliceHolder): Buffer[] | undefined {
      const slices = slicesOf(track, range)
      if (slices !== undefined) lend(slices.pieces, holder)
      return slices?.slices
    },

    /** The bytes of `range` read from disk as they are sent, one chunk at a time. */
    stream (track: Track, range: ByteRange): Readable {
      const file = openFile(track)
      return new FileRangeStream(file, range, o.readChunk)
    },

    /** What `holder` (a reply) sends: one buffer from memory, several as a stream, or a stream from disk. */
    body (track: Track, range: ByteRange, holder?: SliceHolder): Buffer | Readable {
      const found = slicesOf(track, range)
      if (found === undefined) return this.stream(track, range)
      const { slices, pieces } = found
      const length = range.end - range.start + 1
      // Copying a few hundred KiB costs less than streaming the pieces, and lends nothing.
      if (slices.length > 1 && length <= 1024 * 1024) return Buffer.concat(slices, length)
      lend(pieces, holder)
      return slices.length === 1 ? slices[0] as Buffer : Readable.from(slices, { objectMode: false })
    },

    /** The degrader wrote `data` at `position` of the track's file. It is copied: the caller may reuse it. */
    write (track: Track, position: number, data: Buffer): void {
      const entry = entries.get(track)
      if (entry !== undefined) patch(entry, position, data)
      loads.get(track)?.patches.push({ position, data: Buffer.from(data) })
    },

    /** Forget the track's bytes (its file is in an unknown state after a failed write). */
    drop,

    /** The track's identity ended: forget its bytes and close its read handle once no reply uses it. */
    async forget (track: Track): Promise<void> {
      drop(track)
      const file = files.get(track)
      files.delete(track)
      if (file === undefined) return
      if (file.users === 0) await file.handle.then(async h => await h.close(), () => {})
      else file.retired = true
    },

    /** Whether the track is served from memory now. */
    cached: (track: Track) => entries.has(track),

    /** Resolves when a load of the track in progress has finished (for tests and diagnostics). */
    async loaded (track: Track): Promise<void> {
      await loads.get(track)?.done
    },

    async close (): Promise<void> {
      closed = true
      await Promise.all([...loads.values()].map(async l => await l.done))
      entries.clear()
      stats.bytes = 0
      const open = [...files.values()]
      files.clear()
      await Promise.all(open.map(async f => await f.handle.then(async h => await h.close(), () => {})))
    }
  }
}

/** Fill `pieces` from the start of the file, in as few reads as the system allows. */
async function readInto (file: FileHandle, pieces: Buffer[]): Promise<void> {
  const IOV_MAX = 1024
  let position = 0
  for (let first = 0; first < pieces.length; first += IOV_MAX) {
    const batch = pieces.slice(first, first + IOV_MAX)
    while (batch.length > 0) {
      let { bytesRead } = await file.readv(batch, position)
      if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position}`)
      position += bytesRead
      // A short read: keep what is still unfilled.
      while (batch.length > 0 && bytesRead >= (batch[0] as Buffer).length) bytesRead -= (batch.shift() as Buffer).length
      if (bytesRead > 0) batch[0] = (batch[0] as Buffer).subarray(bytesRead)
    }
  }
}

/**
 * A byte range read with positioned reads on a shared handle: no open or
 * close per request, and no read ahead (highWaterMark 0), so a client holds
 * one chunk of memory however large the file and however slow it reads.
 *
 * Piped into a response, it reads every chunk into the same buffer: a chunk
 * is only asked for once the response has handed the previous one to the
 * kernel (its writableLength is 0), so the buffer is free again. That keeps
 * 100 concurrent 1 GB streams from making a GB/s of garbage, whose
 * collection lags behind and inflates the resident memory.
 */
class FileRangeStream extends Readable {
  private position: number
  private released = false
  private buffer: Buffer | undefined
  private destinations = 0
  private response: ServerResponse | undefined

  private readonly file: OpenFile
  private readonly range: ByteRange
  private readonly chunk: number

  constructor (file: OpenFile, range: ByteRange, chunk: number) {
    super({ highWaterMark: 0 })
    this.file = file
    this.range = range
    this.chunk = chunk
    this.position = range.start
  }

  override pipe<T extends NodeJS.WritableStream> (destination: T, options?: { end?: boolean }): T {
    // Only a response's writableLength tells when a chunk has left; anything in between may hold on to it.
    this.response = ++this.destinations === 1 && destination instanceof ServerResponse ? destination : undefined
    return super.pipe(destination, options)
  }

  /** The buffer to read the next `length` bytes into. */
  private bufferFor (length: number): Buffer {
    const reusable = this.buffer !== undefined && this.response?.writableLength === 0 && this.readableLength === 0
    if (!reusable) this.buffer = Buffer.allocUnsafeSlow(Math.min(this.chunk, this.range.end + 1 - this.position))
    return (this.buffer as Buffer).subarray(0, length)
  }

  override _read (): void {
    const length = Math.min(this.chunk, this.range.end + 1 - this.position)
    if (length <= 0) {
      this.push(null)
      return
    }
    const buffer = this.bufferFor(length)
    this.file.handle
      .then(async handle => await handle.read(buffer, 0, length, this.position))
      .then(({ bytesRead }) => {
        if (this.destroyed) return
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${this.position}`)
        this.position += bytesRead
        this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))
        if (this.position > this.range.end) this.push(null)
      })
      .catch((err: unknown) => this.destroy(err as Error))
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.released) {
      this.released = true
      if (--this.file.users === 0 && this.file.retired === true) this.file.handle.then(async h => await h.close(), () => {}).catch(() => {})
    }
    callback(err)
  }
}

export type TrackCache = ReturnType<typeof createTrackCache>

declare module 'fastify' {
  interface FastifyInstance {
    trackCache: TrackCache
  }
}

export default fp<Partial<TrackCacheOptions>>(async function trackCachePlugin (fastify, opts) {
  const cache = createTrackCache(fastify.wav, opts)
  fastify.decorate('trackCache', cache)
  fastify.addHook('onClose', async () => await cache.close())
}, { name: 'track-cache', dependencies: ['wav-io'] })
