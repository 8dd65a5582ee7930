import { createHash } from 'node:crypto'
import { Readable, pipeline } from 'node:stream'
import { constants, createGzip } from 'node:zlib'
import { pack as tarPack, type Pack } from 'tar-stream'
import type { TrackMetadata } from '../track-metadata.js'
import { drained } from './drained.js'
import {
  BACKUP_FORMAT, BACKUP_SCHEMA_VERSION, MANIFEST_NAME, encodeManifest, metadataProblem, nameKey, trackPath,
  type BackupManifest, type BackupTrack
} from './manifest.js'

export interface BackupEntry {
  /** The track's metadata, taken together with the opening of its pristine copy (under the track's gate). */
  metadata: TrackMetadata
  /**
   * Opens the pristine copy; called exactly once for every entry taken from
   * the listing, when the archive reaches it. The stream is always read to its
   * end or destroyed, even when the entry is refused or the reader has gone.
   */
  pristine: () => Promise<Readable> | Readable
  /** The pristine copy's size in bytes: the tar header is written before the bytes. */
  size: number
}

export interface BackupInfo {
  serviceVersion: string
  /** The manifest's created_at and every entry's mtime; the same inputs and `now` give the same bytes. */
  now?: Date
}

/**
 * PCM audio has no repeated strings for deflate's matcher to find: Huffman
 * coding alone compresses it as well (~4 % on noisy audio) at about three
 * times the speed of the default level.
 */
const GZIP_OPTIONS = { strategy: constants.Z_HUFFMAN_ONLY }
const FILE_MODE = 0o644

/**
 * The library as a `.tar.gz` stream: `tracks/<filename>` for each entry's
 * pristine copy, in the order given, then `manifest.json` last, since it
 * carries each file's SHA-256 and those are known only once the file has
 * streamed through. Nothing is held in memory but a chunk at a time and the
 * manifest; a slow reader slows the reading of the files.
 *
 * A failure (a pristine copy whose size differs from `size`, a name or
 * metadata a restore would refuse, a read error) destroys the stream with the
 * error, so the client receives a truncated gzip that no reader accepts.
 * Destroying the stream early stops the work: the open file is closed, no
 * other is opened, and the `entries` iterator is closed.
 */
export function createBackupStream (entries: AsyncIterable<BackupEntry> | Iterable<BackupEntry>, info: BackupInfo): Readable {
  const pack = tarPack()
  pack.on('error', () => {}) // reported through `written`
  const reader: { output?: Readable } = {}
  // An early end reaches packBytes only at its next yield, which an idle pack (the listing waiting) never gives.
  const closed = () => pack.destroying || reader.output?.destroyed === true
  const written = writeArchive(pack, entries, info.serviceVersion, info.now ?? new Date(), closed)
  written.catch((err: unknown) => { pack.destroy(err as Error) })
  // Node's own Readable over tar-stream's (streamx) one, so that pipeline handles errors and early ends.
  const output = pipeline(Readable.from(packBytes(pack, written)), createGzip(GZIP_OPTIONS), () => {})
  output.once('close', () => { pack.destroy() })
  reader.output = output
  return output
}

/** The tar's bytes, then the writer's failure if it failed: a destroyed pack just ends, or says only that it was destroyed. */
async function * packBytes (pack: Pack, written: Promise<void>): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of pack) yield chunk as Buffer
  } catch (err) {
    await written
    throw err
  }
  await written
}

async function writeArchive (pack: Pack, entries: AsyncIterable<BackupEntry> | Iterable<BackupEntry>, serviceVersion: string, now: Date, closed: () => boolean): Promise<void> {
  const tracks: BackupTrack[] = []
  const seen = new Set<string>()
  for await (const entry of entries) {
    const { metadata, size } = entry
    // Called for every entry, even one refused below: a caller may have opened the file already (under the track's gate).
    const source = await entry.pristine()
    try {
      const problem = entryProblem(entry, seen) ?? (closed() ? 'the archive was closed' : undefined)
      if (problem !== undefined) throw new Error(`backup: ${problem}`)
      seen.add(nameKey(metadata.filename))
      const path = trackPath(metadata.filename)
      tracks.push({ metadata, pristine: { path, size, sha256: await writeFileEntry(pack, path, size, now, source) } })
    } finally {
      source.destroy() // a no-op once read to its end
    }
  }
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    schema_version: BACKUP_SCHEMA_VERSION,
    service_version: serviceVersion,
    created_at: now.toISOString(),
    tracks
  }
  const [done, settle] = settled()
  pack.entry({ name: MANIFEST_NAME, mode: FILE_MODE, mtime: now, type: 'file' }, encodeManifest(manifest), settle)
  await done
  pack.finalize()
}

/** Why an entry would make a backup that a restore refuses, or undefined. */
function entryProblem ({ metadata, size }: BackupEntry, seen: Set<string>): string | undefined {
  const name = JSON.stringify(metadata.filename)
  const problem = metadataProblem(metadata)
  if (problem !== undefined) return `the metadata of ${name} would not be restored: ${problem}`
  if (seen.has(nameKey(metadata.filename))) return `${name} is given twice`
  if (size !== metadata.file.size) return `the pristine copy of ${name} is ${size} bytes but its metadata says ${metadata.file.size}`
  return undefined
}

/** Stream `source` into a tar entry of `size` bytes; its SHA-256 in hex. */
async function writeFileEntry (pack: Pack, name: string, size: number, mtime: Date, source: Readable): Promise<string> {
  const hash = createHash('sha256')
  let written = 0
  const [done, settle] = settled()
  // tar-stream calls back once the entry is whole, or with an error when it (or the archive) is destroyed.
  const sink = pack.entry({ name, size, mode: FILE_MODE, mtime, type: 'file' }, settle)
  sink.on('error', () => {}) // reported through settle
  try {
    for await (const chunk of source) {
      const bytes = chunk as Buffer
      written += bytes.length
      if (written > size) throw new Error(`backup: ${name} grew past ${size} bytes while it was read`)
      hash.update(bytes)
      if (!sink.write(bytes)) await drained(sink, 'the archive')
    }
    if (written !== size) throw new Error(`backup: ${name} has ${written} bytes, not ${size}`)
    sink.end(null) // streamx: no last chunk
    await done
  } catch (err) {
    sink.destroy(err as Error)
    throw err
  }
  return hash.digest('hex')
}

/** A promise and the node-style callback that settles it; never an unhandled rejection. */
function settled (): [Promise<void>, (err?: Error | null) => void] {
  let settle: (err?: Error | null) => void = () => {}
  const promise = new Promise<void>((resolve, reject) => { settle = err => { err == null ? resolve() : reject(err) } })
  promise.catch(() => {})
  return [promise, settle]
}
