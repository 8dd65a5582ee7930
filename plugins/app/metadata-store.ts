import fp from 'fastify-plugin'
import { readdir, readFile, rename, rm } from 'node:fs/promises'
import { ensureWritableDir } from '../../lib/writable-dir.js'
import { join } from 'node:path'
import { writeFileAtomic, removeStaleTempFiles } from '../../lib/atomic-file.js'
import { metadataNameOf } from '../../lib/track-name.js'
import { classifyMetadata, type TrackMetadata } from '../../lib/track-metadata.js'

export type LoadedMetadata =
  | { status: 'missing' }
  | { status: 'ours', metadata: TrackMetadata }
  | { status: 'flask', legacy: Record<string, unknown> }
  | { status: 'corrupt', savedAs: string, reason: string }

/**
 * One JSON file per track at METADATA_DIR/<name without .wav>.json, where the
 * Flask service kept them. Files are only ever replaced atomically (temporary
 * file, fsync, rename, fsync of the folder), so a crash leaves the old or the
 * new file, never a torn one.
 */
export function createMetadataStore (dir: string) {
  const pathOf = (filename: string) => join(dir, metadataNameOf(filename))
  // The metadata files by lower-case name: a track renamed by case alone finds its file again.
  const byLowerCase = new Map<string, string>()
  const remember = (file: string) => { if (file.endsWith('.json')) byLowerCase.set(file.toLowerCase(), file) }

  return {
    dir,
    pathOf,

    async init (): Promise<number> {
      await ensureWritableDir(dir, 'METADATA_DIR')
      const removed = await removeStaleTempFiles(dir)
      // A restore a stop cut short unpacked into .restore-*: never installed, so nothing to keep.
      for (const entry of await readdir(dir)) {
        if (entry.startsWith('.restore-')) await rm(join(dir, entry), { recursive: true, force: true })
      }
      for (const file of await readdir(dir)) remember(file)
      return removed
    },

    async load (filename: string): Promise<LoadedMetadata> {
      let path = pathOf(filename)
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        const other = byLowerCase.get(metadataNameOf(filename).toLowerCase())
        if (other === undefined || other === metadataNameOf(filename)) return { status: 'missing' }
        // Saved under the same name in another case: the caller decides whether it is this file's.
        path = join(dir, other)
        try {
          text = await readFile(path, 'utf8')
        } catch {
          return { status: 'missing' }
        }
      }
      let value: unknown
      let reason = 'it does not describe segment play counts'
      try {
        value = JSON.parse(text)
      } catch (err) {
        reason = `it is not valid JSON (${(err as Error).message})`
      }
      const kind = classifyMetadata(value)
      if (kind === 'ours') return { status: 'ours', metadata: value as TrackMetadata }
      if (kind === 'flask') return { status: 'flask', legacy: value as Record<string, unknown> }
      // Never overwrite what we cannot read: set it aside for a person to look at.
      const savedAs = `${path}.corrupt-${Date.now()}`
      await rename(path, savedAs)
      return { status: 'corrupt', savedAs, reason }
    },

    async save (metadata: TrackMetadata): Promise<void> {
      await writeFileAtomic(pathOf(metadata.filename), JSON.stringify(metadata, null, 2) + '\n')
      remember(metadataNameOf(metadata.filename))
    },

    /** Remove the metadata file of `filename` (this exact case). */
    async remove (filename: string): Promise<void> {
      const file = metadataNameOf(filename)
      await rm(join(dir, file), { force: true })
      if (byLowerCase.get(file.toLowerCase()) === file) byLowerCase.delete(file.toLowerCase())
    }
  }
}

export type MetadataStore = ReturnType<typeof createMetadataStore>

declare module 'fastify' {
  interface FastifyInstance {
    metadata: MetadataStore
  }
}

export default fp(async function metadataStorePlugin (fastify) {
  const store = createMetadataStore(fastify.config.metadataDir)
  const removed = await store.init()
  if (removed > 0) fastify.log.warn({ removed }, 'removed temporary metadata files left by an interrupted write')
  fastify.decorate('metadata', store)
}, { name: 'metadata-store', dependencies: ['config'] })
