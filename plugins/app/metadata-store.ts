import fp from 'fastify-plugin'
import { readFile, rename } from 'node:fs/promises'
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

  return {
    dir,
    pathOf,

    async init (): Promise<number> {
      await ensureWritableDir(dir, 'METADATA_DIR')
      return await removeStaleTempFiles(dir)
    },

    async load (filename: string): Promise<LoadedMetadata> {
      const path = pathOf(filename)
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' }
        throw err
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
