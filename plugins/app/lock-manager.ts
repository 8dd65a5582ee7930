import fp from 'fastify-plugin'
import { Mutex } from 'async-mutex'

/**
 * Named mutexes, created on first use and dropped when idle so that the map
 * does not grow with every segment ever played. Work on one key is
 * serialised; different keys (different tracks, different segments) never
 * wait for each other.
 */
export function createLockManager () {
  const mutexes = new Map<string, { mutex: Mutex, users: number }>()

  async function withLock<T> (key: string, work: () => Promise<T>): Promise<T> {
    let entry = mutexes.get(key)
    if (entry === undefined) {
      entry = { mutex: new Mutex(), users: 0 }
      mutexes.set(key, entry)
    }
    entry.users++
    try {
      return await entry.mutex.runExclusive(work)
    } finally {
      if (--entry.users === 0) mutexes.delete(key)
    }
  }

  return {
    /** Serialise reads-modify-writes of one segment's count and audio. */
    segment: <T>(track: string, index: number, work: () => Promise<T>) => withLock(`segment:${track}:${index}`, work),
    /** Serialise whole-track work (adoption, replacement, reset) with itself. */
    track: <T>(track: string, work: () => Promise<T>) => withLock(`track:${track}`, work),
    /** How many keys are held or awaited right now (for tests and diagnostics). */
    get active (): number { return mutexes.size }
  }
}

export type LockManager = ReturnType<typeof createLockManager>

declare module 'fastify' {
  interface FastifyInstance {
    locks: LockManager
  }
}

export default fp(async function lockManagerPlugin (fastify) {
  fastify.decorate('locks', createLockManager())
}, { name: 'lock-manager' })
