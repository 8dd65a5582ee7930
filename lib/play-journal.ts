import { createReadStream } from 'node:fs'
import { mkdir, open as openFile, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { fsyncDir } from './atomic-file.js'

/** One play: `count` is the segment's play count after it, so replaying a record twice is harmless (take the max). */
export interface PlayRecord {
  track: string
  /** The track's identity (track_id) the play was acknowledged for; absent in records of earlier versions. */
  id?: string
  segment: number
  count: number
  /** When it was acknowledged (ms since the epoch), for the listening history; absent in records of earlier versions. */
  at?: number
}

/** What the journal needs of an open file; `FileHandle` fits. Tests inject failing ones. */
export interface JournalFile {
  write (buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>
  datasync (): Promise<void>
  close (): Promise<void>
}

export interface PlayJournalOptions {
  /** Creates a new, empty generation file (it must not exist yet) opened for appending. */
  createFile?: (path: string) => Promise<JournalFile>
  /** Told of every successful commit: its write and fdatasync in seconds, and the records it made durable. */
  onCommit?: CommitObserver
}

export type CommitObserver = (seconds: number, records: number) => void

export interface OpenedJournal {
  journal: PlayJournal
  /** Records of the generations left by earlier runs, oldest first. */
  recovered: PlayRecord[]
  /** The highest generation read (0 when none): retire it once `recovered` is checkpointed. */
  recoveredThrough: number
  /** Torn or unparsable lines that were ignored; a crash mid-write leaves one. */
  skippedLines: number
}

const FILE_NAME = /^plays-(\d+)\.jsonl$/
const noop = (): void => {}

function generationFileName (generation: number): string {
  return `plays-${generation}.jsonl`
}

function invalidRecord (record: PlayRecord): string | undefined {
  if (typeof record.track !== 'string' || record.track === '') return 'track must be a non-empty string'
  if (!Number.isSafeInteger(record.segment) || record.segment < 0) return 'segment must be a non-negative integer'
  if (!Number.isSafeInteger(record.count) || record.count < 0) return 'count must be a non-negative integer'
  return undefined
}

function parseLine (line: string): PlayRecord | undefined {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { t, i, s, n, a } = value as Record<string, unknown>
  if (i !== undefined && typeof i !== 'string') return undefined
  const record = (i === undefined ? { track: t, segment: s, count: n } : { track: t, id: i, segment: s, count: n }) as PlayRecord
  // A time that is not one is dropped, not the play: the count is what the record is for.
  if (Number.isSafeInteger(a) && (a as number) > 0) record.at = a as number
  return invalidRecord(record) === undefined ? record : undefined
}

async function listGenerations (dir: string): Promise<number[]> {
  const names = await readdir(dir)
  return names.flatMap(name => {
    const match = FILE_NAME.exec(name)
    return match?.[1] === undefined ? [] : [Number(match[1])]
  }).sort((a, b) => a - b)
}

async function readGeneration (path: string, into: PlayRecord[]): Promise<number> {
  let skipped = 0
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })
  for await (const line of lines) {
    const record = parseLine(line)
    if (record === undefined) skipped++
    else into.push(record)
  }
  return skipped
}

function closedError (): Error {
  return Object.assign(new Error('PlayJournal is closed'), { code: 'EA_JOURNAL_CLOSED' })
}

/** One generation file. `ready` settles once the file and its folder entry are durable. */
class Generation {
  private closing: Promise<void> | undefined

  readonly number: number
  readonly ready: Promise<JournalFile>

  constructor (number: number, ready: Promise<JournalFile>) {
    this.number = number
    this.ready = ready
    ready.catch(noop) // awaited by whichever batch uses it; an unused failure is not an error
  }

  async close (): Promise<void> {
    this.closing ??= this.ready.then(file => file.close(), noop)
    return this.closing
  }
}

interface Pending {
  line: string
  generation: Generation
  resolve: (generation: number) => void
  reject: (err: unknown) => void
}

/**
 * The write-ahead log of plays: `append` resolves only once the record is on
 * disk. Appends that arrive while a commit is in flight wait and then share
 * the next one (one write, one fdatasync), so throughput grows with
 * concurrency instead of being capped at one fdatasync per play.
 *
 * After a failed commit the file it went to is abandoned and later records go
 * to a fresh generation: a half-written batch must never be followed by more
 * lines (they would glue onto its torn tail and be lost on recovery), and a
 * file whose fdatasync failed cannot be trusted to have kept anything since.
 */
export class PlayJournal {
  /** Successful commits and the records they made durable. */
  readonly stats = { records: 0, commits: 0 }
  /** Told of every successful commit (metrics); may be set after opening. */
  onCommit: CommitObserver | undefined
  private current: Generation
  private readonly live = new Set<Generation>()
  private queue: Pending[] = []
  private flushing: Promise<void> | undefined
  private tail: Promise<void> = Promise.resolve()
  private closing: Promise<void> | undefined
  private nextNumber: number

  private readonly dir: string
  private readonly createFile: (path: string) => Promise<JournalFile>

  private constructor (dir: string, firstGeneration: number, createFile: (path: string) => Promise<JournalFile>, onCommit?: CommitObserver) {
    this.dir = dir
    this.createFile = createFile
    this.onCommit = onCommit
    this.nextNumber = firstGeneration
    this.current = this.startGeneration()
  }

  static async open (dir: string, options: PlayJournalOptions = {}): Promise<OpenedJournal> {
    await mkdir(dir, { recursive: true })
    const generations = await listGenerations(dir)
    const recovered: PlayRecord[] = []
    let skippedLines = 0
    for (const generation of generations) {
      skippedLines += await readGeneration(join(dir, generationFileName(generation)), recovered)
    }
    const recoveredThrough = generations.at(-1) ?? 0
    const createFile = options.createFile ?? (async path => await openFile(path, 'ax'))
    // Always a fresh file: appending to an old one could glue the first new line onto a torn last one.
    const journal = new PlayJournal(dir, recoveredThrough + 1, createFile, options.onCommit)
    await journal.current.ready
    return { journal, recovered, recoveredThrough, skippedLines }
  }

  get generation (): number {
    return this.current.number
  }

  append (record: PlayRecord): Promise<number> {
    if (this.closing !== undefined) return Promise.reject(closedError())
    const problem = invalidRecord(record)
    // Rejected here: written as is, it would be skipped on recovery, a lost acknowledged play.
    if (problem !== undefined) return Promise.reject(new TypeError(`PlayJournal.append: ${problem}`))
    const line = JSON.stringify({ t: record.track, i: record.id, s: record.segment, n: record.count, a: record.at }) + '\n'
    const done = new Promise<number>((resolve, reject) => {
      this.queue.push({ line, generation: this.current, resolve, reject })
    })
    this.tail = done.then(noop, noop)
    this.flushing ??= this.flush()
    return done
  }

  /** Later appends go to a new generation; resolves with the old one once all its appends have settled. */
  async rotate (): Promise<number> {
    if (this.closing !== undefined) throw closedError()
    const previous = this.current
    const settled = this.tail
    const next = this.startGeneration()
    this.current = next
    await settled
    await this.release(previous)
    await next.ready
    return previous.number
  }

  /** Delete the generations up to `throughGeneration`, whose effects are now checkpointed elsewhere. */
  async retire (throughGeneration: number): Promise<void> {
    const inUse = [...this.live].find(g => g.number <= throughGeneration)
    if (inUse !== undefined) throw new RangeError(`PlayJournal.retire: generation ${inUse.number} is still in use`)
    for (const generation of await listGenerations(this.dir)) {
      if (generation <= throughGeneration) await rm(join(this.dir, generationFileName(generation)), { force: true })
    }
    await fsyncDir(this.dir)
  }

  /** Lets pending appends finish, then closes the files; later appends reject. */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      await this.tail
      await this.flushing
      await Promise.all([...this.live].map(async g => await this.release(g)))
    })()
    return this.closing
  }

  private startGeneration (): Generation {
    const path = join(this.dir, generationFileName(this.nextNumber))
    const generation = new Generation(this.nextNumber++, (async () => {
      const file = await this.createFile(path)
      try {
        await fsyncDir(this.dir) // fdatasync covers the file's data, not its name in the folder
      } catch (err) {
        await file.close()
        throw err
      }
      return file
    })())
    this.live.add(generation)
    return generation
  }

  private async release (generation: Generation): Promise<void> {
    this.live.delete(generation)
    await generation.close()
  }

  private async flush (): Promise<void> {
    // Waiting one turn lets every append of this turn join the commit, and so
    // do the callers just woken by the previous commit who append again.
    await nextTurn()
    for (let first = this.queue[0]; first !== undefined; first = this.queue[0]) {
      const generation = first.generation
      const size = this.queue.findIndex(p => p.generation !== generation)
      const batch = this.queue.splice(0, size === -1 ? this.queue.length : size)
      try {
        const file = await generation.ready
        const started = performance.now()
        await this.commit(file, batch.map(p => p.line).join(''))
        this.onCommit?.((performance.now() - started) / 1000, batch.length)
        this.stats.records += batch.length
        this.stats.commits++
        for (const pending of batch) pending.resolve(generation.number)
      } catch (err) {
        const released = this.abandon(generation)
        for (const pending of batch) pending.reject(err)
        await released.catch(noop)
      }
      await nextTurn()
    }
    this.flushing = undefined
  }

  private async commit (file: JournalFile, text: string): Promise<void> {
    const bytes = Buffer.from(text)
    let offset = 0
    while (offset < bytes.length) {
      const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset)
      offset += bytesWritten
    }
    await file.datasync()
  }

  private async abandon (generation: Generation): Promise<void> {
    if (this.current === generation) this.current = this.startGeneration()
    for (const pending of this.queue) {
      if (pending.generation === generation) pending.generation = this.current
    }
    await this.release(generation)
  }
}
