import { createHmac, randomBytes } from 'node:crypto'
import { dayOf } from './history-store.js'

/**
 * Unique listeners without knowing who anyone is, as privacy-first web
 * analytics do it: a listener is a keyed hash of (client address,
 * User-Agent) under a random key that lives in memory only and is replaced
 * at 00:00 UTC. The same listener hashes alike all day; the next day's key
 * makes an unrelated hash, and with yesterday's key gone nothing (not even
 * this process) can link the two or get back to the address. A restart
 * draws a new key too, so a listener heard before and after one counts twice
 * that day: the price of never writing the key down.
 */
export class ListenerKeys {
  private day = Number.NaN
  private key: Buffer = Buffer.alloc(0)

  /** The listener's hash for the day of `at` (16 bytes, base64url). */
  keyOf (address: string, userAgent: string, at: number): string {
    const day = dayOf(at)
    if (day !== this.day) {
      this.key = randomBytes(32)
      this.day = day
    }
    return createHmac('sha256', this.key).update(address).update('\0').update(userAgent).digest().subarray(0, 16).toString('base64url')
  }
}
