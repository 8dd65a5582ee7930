/**
 * A small real library for backup tests (WAV files and the metadata the
 * service would store for them), and archives crafted entry by entry.
 */
import { createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream'
import type { BackupEntry } from '../../../lib/backup/index.js'
import { readWavLayout } from '../../../lib/riff.js'
import { freshMetadata, type TrackMetadata } from '../../../lib/track-metadata.js'
import { titleOf } from '../../../lib/track-name.js'
import { segmentCount } from '../../../lib/wav-format.js'
import { writeTestWav, type TestWavOptions } from '../../fixtures/wav-fixtures.js'

export const NOW = new Date('2026-12-02T10:00:00.000Z')
export const SEGMENT_DURATION = 0.25

export interface LibraryTrack { metadata: TrackMetadata, path: string, size: number }

/** WAV files in `dir` and their metadata, with some plays and a Flask baseline on the first. */
export async function makeLibrary (dir: string, specs: Array<{ filename: string, wav?: TestWavOptions }>): Promise<LibraryTrack[]> {
  const tracks: LibraryTrack[] = []
  for (const [i, { filename, wav }] of specs.entries()) {
    const path = join(dir, filename)
    await writeTestWav(path, wav ?? {})
    const file = await open(path, 'r')
    const layout = await readWavLayout(file).finally(() => file.close())
    const { size, mtimeMs, ino } = await stat(path)
    const metadata = freshMetadata({
      filename,
      title: titleOf(filename),
      layout,
      segmentDuration: SEGMENT_DURATION,
      totalSegments: segmentCount(layout, SEGMENT_DURATION),
      file: { size, mtime_ms: mtimeMs, ino }
    }, NOW)
    metadata.segment_play_counts = metadata.segment_play_counts.map((_, k) => (k + i) % 4)
    if (i === 0) metadata.baseline_play_counts = metadata.segment_play_counts.map(n => Math.min(n, 1))
    metadata.total_streams = i + 1
    tracks.push({ metadata, path, size })
  }
  return tracks
}

export function entriesOf (tracks: LibraryTrack[]): BackupEntry[] {
  return tracks.map(({ metadata, path, size }) => ({ metadata, size, pristine: () => createReadStream(path) }))
}

export async function bytesOf (stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export interface ArchiveEntry { header: Header, body: Buffer }

/** Every entry of a .tar.gz, in order, with its bytes. */
export async function listArchive (gzipped: Buffer): Promise<ArchiveEntry[]> {
  const { gunzipSync } = await import('node:zlib')
  const entries: ArchiveEntry[] = []
  const extract = tarExtract()
  extract.end(gunzipSync(gzipped))
  for await (const entry of extract) entries.push({ header: entry.header, body: await bytesOf(entry) })
  return entries
}

export type CraftedEntry = Partial<Header> & { name: string, body?: Buffer | string }

/** An uncompressed tar of exactly these entries (links, devices, odd names and all), with its end blocks. */
export async function craftTar (entries: CraftedEntry[]): Promise<Buffer> {
  const pack = tarPack()
  const collected = bytesOf(pack)
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => { err == null ? resolve() : reject(err) }
      if (body === undefined) pack.entry({ mtime: NOW, ...header }, done)
      else pack.entry({ mtime: NOW, ...header }, typeof body === 'string' ? Buffer.from(body) : body, done)
    })
  }
  pack.finalize()
  return await collected
}

export const craftArchive = async (entries: CraftedEntry[]) => gzipSync(await craftTar(entries))

/** A readable that yields `buffer` in small pieces, as a network would. */
export function trickle (buffer: Buffer, piece = 7919): Readable {
  return Readable.from((function * () {
    for (let i = 0; i < buffer.length; i += piece) yield buffer.subarray(i, i + piece)
  })())
}
