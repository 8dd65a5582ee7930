import fp from 'fastify-plugin'
import { Mutex } from 'async-mutex'

/**
 * A readers–writer gate: any number of shared holders at once, or one
 * exclusive holder. A waiting exclusive holder blocks new shared ones, so a
 * steady stream of plays cannot starve a reset.
 */
function createGate () {
  const writer = new Mutex()
  let readers = 0
  let drained: (() => void) | undefined

  return {
    get idle (): boolean { return readers === 0 && !writer.isLocked() },

    async shared<T> (work: () => Promise<T>): Promise<T> {
      for (;;) {
        await writer.waitForUnlock()
        readers++
        // A writer may have locked between our wake-up and the increment: back off and wait again.
        if (!writer.isLocked()) break
        leave()
      }
      try {
        return await work()
      } finally {
        leave()
      }
    },

    async exclusive<T> (work: () => Promise<T>): Promise<T> {
      return await writer.runExclusive(async () => {
        if (readers > 0) await new Promise<void>(resolve => { drained = resolve })
        return await work()
      })
    }
  }

  function leave (): void {
    if (--readers === 0 && drained !== undefined) {
      const wake = drained
      drained = undefined
      wake()
    }
  }
}

/**
 * Named locks, created on first use and dropped when idle so that the maps do
 * not grow with every segment ever played. Plays of one segment are
 * serialised; different segments and different tracks never wait for each
 * other; whole-track work (a reset) waits for the track's plays in flight and
 * holds new ones back until it is done.
 */
export function createLockManager () {
  const mutexes = new Map<string, { mutex: Mutex, users: number }>()
  const gates = new Map<string, { gate: ReturnType<typeof createGate>, users: number }>()

  async function withEntry<E extends { users: number }, T> (map: Map<string, E>, key: string, make: () => E, work: (entry: E) => Promise<T>): Promise<T> {
    let entry = map.get(key)
    if (entry === undefined) map.set(key, entry = make())
    entry.users++
    try {
      return await work(entry)
    } finally {
      if (--entry.users === 0) map.delete(key)
    }
  }

  const gateOf = <T>(track: string, work: (gate: ReturnType<typeof createGate>) => Promise<T>) =>
    withEntry(gates, track, () => ({ gate: createGate(), users: 0 }), async entry => await work(entry.gate))

  return {
    /** Serialise read-modify-writes of one segment's count and audio. */
    segment: <T>(track: string, index: number, work: () => Promise<T>) =>
      gateOf(track, async gate => await gate.shared(async () =>
        await withEntry(mutexes, `${track}:${index}`, () => ({ mutex: new Mutex(), users: 0 }), async entry => await entry.mutex.runExclusive(work)))),

    /** Run `work` alone on the track: no play of any of its segments runs meanwhile. */
    track: <T>(track: string, work: () => Promise<T>) => gateOf(track, async gate => await gate.exclusive(work)),

    /** How many keys are held or awaited right now (for tests and diagnostics). */
    get active (): number { return mutexes.size + gates.size }
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
