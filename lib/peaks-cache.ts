/**
 * Values computed for one version of a track, kept while they may be asked
 * for again. Least recently used go first when the byte budget is exceeded; a
 * group (a track) can be visited or dropped at once; callers asking for a key
 * that is being computed share that computation.
 */
export class VersionCache<V> {
  readonly #entries = new Map<string, { group: string, value: V, bytes: number }>()
  readonly #pending = new Map<string, Promise<unknown>>()
  readonly #maxBytes: number
  readonly #sizeOf: (value: V) => number
  #bytes = 0

  constructor (maxBytes: number, sizeOf: (value: V) => number) {
    this.#maxBytes = maxBytes
    this.#sizeOf = sizeOf
  }

  /** Bytes held, as sizeOf counts them. */
  get bytes (): number { return this.#bytes }
  get size (): number { return this.#entries.size }

  get (key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    // Re-inserting moves the entry to the young end of the Map's order.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.value
  }

  set (group: string, key: string, value: V): void {
    this.#remove(key)
    const bytes = this.#sizeOf(value)
    // A value larger than a quarter of the budget would flush everything else for one client.
    if (bytes > this.#maxBytes / 4) return
    this.#entries.set(key, { group, value, bytes })
    this.#bytes += bytes
    for (const oldest of this.#entries.keys()) {
      if (this.#bytes <= this.#maxBytes) break
      this.#remove(oldest)
    }
  }

  dropGroup (group: string): void {
    for (const [key, entry] of this.#entries) if (entry.group === group) this.#remove(key)
  }

  /** Every value of a group, for in-place amendment (their sizes must not change). */
  * group (group: string): Generator<V> {
    for (const entry of this.#entries.values()) if (entry.group === group) yield entry.value
  }

  /** `compute()` once for all callers asking for `key` while it runs. */
  async shared<T> (key: string, compute: () => Promise<T>): Promise<T> {
    let pending = this.#pending.get(key) as Promise<T> | undefined
    if (pending === undefined) {
      pending = compute().finally(() => this.#pending.delete(key))
      this.#pending.set(key, pending)
    }
    return await pending
  }

  #remove (key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#bytes -= entry.bytes
  }
}
