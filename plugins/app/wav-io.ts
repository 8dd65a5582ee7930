import fp from 'fastify-plugin'
import { open, type FileHandle } from 'node:fs/promises'
import { readWavLayout } from '../../lib/riff.js'
import type { WavLayout } from '../../lib/wav-format.js'

export interface InspectedFile {
  layout: WavLayout
  size: number
  mtimeMs: number
}

/**
 * Positioned access to WAV files: only the bytes asked for are read or
 * written, so a one-hour track costs no more than a one-minute one.
 */
export function createWavIo () {
  return {
    /** Parse the header of the file at `path`; throws WavFormatError when it cannot be played. */
    async inspect (path: string): Promise<InspectedFile> {
      const file = await open(path, 'r')
      try {
        const [layout, stat] = await Promise.all([readWavLayout(file), file.stat()])
        return { layout, size: stat.size, mtimeMs: stat.mtimeMs }
      } finally {
        await file.close()
      }
    },

    openForRead: async (path: string) => await open(path, 'r'),
    openForUpdate: async (path: string) => await open(path, 'r+'),

    /** Exactly `length` bytes at `position`, into `into` when given. */
    async readSpan (file: FileHandle, position: number, length: number, into?: Buffer): Promise<Buffer> {
      const buffer = into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await file.read(buffer, done, length - done, position + done)
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position + done}`)
        done += bytesRead
      }
      return buffer
    },

    async writeSpan (file: FileHandle, position: number, data: Buffer): Promise<void> {
      let done = 0
      while (done < data.length) {
        const { bytesWritten } = await file.write(data, done, data.length - done, position + done)
        done += bytesWritten
      }
    }
  }
}

export type WavIo = ReturnType<typeof createWavIo>

declare module 'fastify' {
  interface FastifyInstance {
    wav: WavIo
  }
}

export default fp(async function wavIoPlugin (fastify) {
  fastify.decorate('wav', createWavIo())
}, { name: 'wav-io' })
