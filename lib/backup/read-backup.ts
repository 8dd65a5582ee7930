import { createHash } from 'node:crypto'
import { open, readdir, rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { extract as tarExtract, type Extract, type ExtractEvents } from 'tar-stream'
import { BackupError, backupTooLarge, badBackup } from './backup-error.js'
import { classifyEntry } from './archive-entry.js'
import { drained } from './drained.js'
import { MANIFEST_NAME, nameKey, trackPath } from './manifest.js'
import { verifyBackup, type ExtractedFile, type RestoredBackup } from './verify-backup.js'

export type { RestoredBackup }

type Source = ExtractEvents['entry'][1]

export interface BackupLimits {
  /** Bytes of the uncompressed tar stream (headers, padding and files) read before giving up: bounds disk use and gzip bombs. */
  maxBytes: number
  /** Tracks in one backup; default DEFAULT_MAX_TRACKS. */
  maxTracks?: number
  /** The largest manifest.json held in memory; default DEFAULT_MAX_MANIFEST_BYTES. */
  maxManifestBytes?: number
}

/**
 * Defaults that fit together: a 3-minute track at the default 0.5-s segments
 * takes ~2 KB of manifest (two counts per segment), so 50,000 of them ~100 MB.
 * Libraries of longer tracks or finer segments need a larger manifest limit.
 */
export const DEFAULT_MAX_TRACKS = 50_000
export const DEFAULT_MAX_MANIFEST_BYTES = 128 * 1024 * 1024

const BLOCK = 512
/** A tar archive ends with two zero blocks; without them it was cut short. */
const END_OF_ARCHIVE = 2 * BLOCK
const GUNZIP_CHUNK = 64 * 1024

interface Extracted { manifest: Buffer | undefined, files: Map<string, ExtractedFile> }

/**
 * Unpack a `.tar.gz` backup into `intoDir` (which must exist and be empty)
 * and check all of it: entry names and types, sizes and SHA-256s against the
 * manifest, the manifest against the files, every track's metadata against
 * its audio. All or nothing: on any failure the files it wrote are removed
 * and it throws a BackupError (422 EA_BAD_BACKUP, or 413 EA_BACKUP_TOO_LARGE
 * past `limits`), or the input's or the disk's own error. Each file is
 * fdatasync'ed before it resolves, ready to be renamed into place.
 *
 * `input` is read, never destroyed: on failure reading stops where it is, and
 * what to do with the rest (drain it, close the connection) is the caller's.
 */
export async function readBackup (input: Readable | AsyncIterable<Buffer>, intoDir: string, limits: BackupLimits): Promise<RestoredBackup> {
  if ((await readdir(intoDir)).length > 0) throw new Error('readBackup: the folder to unpack into must be empty')
  const written: string[] = []
  try {
    const extracted = await extract(input, intoDir, limits, written)
    if (extracted.manifest === undefined) throw badBackup(`the archive has no ${MANIFEST_NAME}`)
    return await verifyBackup(extracted.manifest, extracted.files, limits.maxTracks ?? DEFAULT_MAX_TRACKS)
  } catch (err) {
    await Promise.all(written.map(async path => { await rm(path, { force: true }) }))
    throw err
  }
}

async function extract (input: Readable | AsyncIterable<Buffer>, intoDir: string, limits: BackupLimits, written: string[]): Promise<Extracted> {
  const entries = tarExtract()
  // Its own complaint: an entry cut short reaches the file being written only as 'Stream was destroyed'.
  let tarError: unknown
  entries.on('error', err => { tarError = err })
  const abort = new AbortController()
  // Reading the input stops on any failure at once: the pipeline waits for its source to end before it reports one.
  const stopReading = new AbortController()
  abort.signal.addEventListener('abort', () => { stopReading.abort() })
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK })
  gunzip.once('error', () => { stopReading.abort() })
  let inflated = 0
  const feeding = pipeline(chunksOf(input, stopReading.signal), gunzip, async (tar: AsyncIterable<Buffer>) => {
    try {
      for await (const chunk of tar) {
        inflated += chunk.length
        if (inflated > limits.maxBytes) throw backupTooLarge(`it unpacks to more than ${limits.maxBytes} bytes`)
        if (!entries.write(chunk)) await drained(entries, 'the tar reader')
      }
    } catch (err) {
      stopReading.abort()
      throw err
    }
    entries.end(null) // streamx: no last chunk
  }, { signal: abort.signal }).catch((err: unknown) => {
    const failure = feedFailure(err)
    entries.destroy(failure as Error)
    throw failure
  })
  feeding.catch(() => {})

  try {
    const extracted = await unpack(entries, intoDir, limits, written, () => inflated)
    await feeding
    return extracted
  } catch (err) {
    abort.abort()
    entries.destroy()
    const fed = await feeding.then(() => undefined, (e: unknown) => e)
    throw rootCause(err, fed, tarError)
  }
}

/**
 * The input's chunks, until `signal` says the pipeline failed. The input is
 * never destroyed, and a read that would wait forever (a client that stopped
 * sending) does not hold the failure up.
 */
async function * chunksOf (input: Readable | AsyncIterable<Buffer>, signal: AbortSignal): AsyncGenerator<Buffer> {
  const chunks = input instanceof Readable ? input.iterator({ destroyOnReturn: false }) : input[Symbol.asyncIterator]()
  try {
    for (;;) {
      const next = await unlessAborted(chunks.next(), signal)
      if (next.done === true) return
      yield next.value as Buffer
    }
  } finally {
    // Not awaited: it waits for the pending read, which may never come.
    chunks.return?.()?.catch(() => {})
  }
}

/**
 * `promise`, or the signal's reason if it aborts first. Not Promise.race
 * against one long-lived promise: each race would leave a reaction on it
 * holding its chunk, and the whole archive would stay in memory.
 */
async function unlessAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort = () => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function unpack (entries: Extract, intoDir: string, limits: BackupLimits, written: string[], inflated: () => number): Promise<Extracted> {
  const maxEntries = (limits.maxTracks ?? DEFAULT_MAX_TRACKS) + 2 // the manifest, the tracks/ folder
  const maxManifestBytes = limits.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES
  const files = new Map<string, ExtractedFile>()
  const names = new Map<string, string>()
  let manifest: Buffer | undefined
  let count = 0
  let end = 0
  for await (const entry of entries) {
    const { header } = entry
    if (++count > maxEntries) throw backupTooLarge(`it has more than ${maxEntries} entries`)
    const kind = classifyEntry(header)
    // tar-stream, like tar, reads no data after a directory's header, whatever size it claims.
    const dataSize = header.type === 'directory' ? 0 : header.size
    end = entry.offset + BLOCK + Math.ceil(dataSize / BLOCK) * BLOCK
    if (end > limits.maxBytes) throw backupTooLarge(`it unpacks to more than ${limits.maxBytes} bytes (${header.name} alone is ${header.size})`)
    if (kind.kind === 'manifest') {
      if (manifest !== undefined) throw badBackup(`${MANIFEST_NAME} appears twice`)
      if (header.size > maxManifestBytes) throw backupTooLarge(`${MANIFEST_NAME} is ${header.size} bytes; at most ${maxManifestBytes} are read`)
      manifest = await bytesOf(entry)
    } else if (kind.kind === 'track') {
      const earlier = names.get(nameKey(kind.filename))
      if (earlier !== undefined) {
        throw badBackup(`${trackPath(kind.filename)} appears twice${earlier === kind.filename ? '' : ` (as ${trackPath(earlier)}: names that differ only in case are one track)`}`)
      }
      names.set(nameKey(kind.filename), kind.filename)
      files.set(kind.filename, await writeFile(entry, kind.filename, resolve(intoDir, kind.filename), written))
    }
  }
  // tar-stream skips zero blocks and stops quietly at an entry boundary: a cut there shows only here.
  if (inflated() - end < END_OF_ARCHIVE) throw badBackup('the tar archive is truncated (it lacks its end-of-archive blocks)')
  return { manifest, files }
}

async function bytesOf (entry: Source): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of entry) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Stream an entry into a new file, hashing it on the way; `written` hears of the file as soon as it exists. */
async function writeFile (entry: Source, filename: string, path: string, written: string[]): Promise<ExtractedFile> {
  const hash = createHash('sha256')
  let size = 0
  const file = await open(path, 'wx')
  written.push(path)
  try {
    for await (const chunk of entry) {
      const bytes = chunk as Buffer
      hash.update(bytes)
      for (let offset = 0; offset < bytes.length;) {
        const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset, size + offset)
        offset += bytesWritten
      }
      size += bytes.length
    }
    await file.datasync()
  } finally {
    await file.close()
  }
  return { filename, path, size, sha256: hash.digest('hex') }
}

/** What went wrong upstream of tar: the gzip layer, the limits, or the input itself (kept as it is). */
function feedFailure (err: unknown): unknown {
  if (err instanceof BackupError) return err
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'Z_BUF_ERROR') return badBackup('the gzip stream is truncated (unexpected end of file)')
  if (typeof code === 'string' && code.startsWith('Z_')) return badBackup(`it is not a valid gzip stream (${(err as Error).message})`)
  return err
}

/**
 * The failure to report when unpacking stopped: our own verdict on an entry
 * first, then what stopped the input (truncated gzip, a limit, the input's own
 * error), then the disk's (a system call's error), then tar-stream's complaint about
 * the archive.
 */
function rootCause (err: unknown, fed: unknown, tarError: unknown): unknown {
  if (err instanceof BackupError) return err
  if (fed !== undefined && (fed as Error).name !== 'AbortError') return fed
  if (typeof (err as NodeJS.ErrnoException | undefined)?.syscall === 'string') return err
  const complaint = tarError ?? err
  const message = (complaint as Error | undefined)?.message ?? String(complaint)
  if (message === 'Unexpected end of data') return badBackup('the tar archive is truncated (unexpected end of data)')
  return badBackup(`it is not a valid tar archive (${message})`)
}
