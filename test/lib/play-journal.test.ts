import { spawn } from 'node:child_process'
import { open, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { sourceLoader } from '../service-process.js'
import { PlayJournal, type JournalFile, type PlayRecord } from '../../lib/play-journal.js'

const play = (segment: number, count = 1, track = 'song'): PlayRecord => ({ track, segment, count })

async function linesOf (dir: string, generation: number): Promise<PlayRecord[]> {
  const text = await readFile(join(dir, `plays-${generation}.jsonl`), 'utf8')
  return text.split('\n').filter(l => l !== '').map(l => {
    const { t, s, n } = JSON.parse(l) as { t: string, s: number, n: number }
    return { track: t, segment: s, count: n }
  })
}

async function reopen (journal: PlayJournal, dir: string): ReturnType<typeof PlayJournal.open> {
  await journal.close()
  return await PlayJournal.open(dir)
}

/** Real files whose writes and syncs a test can hold back, tear or fail. */
interface Faults {
  holdSync?: Promise<void>
  /** The next write puts all but its last 3 bytes on disk, then fails. */
  tearNextWrite?: Error
  failNextSync?: Error
  failNextCreate?: Error
  maxBytesPerWrite?: number
}

function faultyFiles (faults: Faults) {
  const closed: string[] = []
  const createFile = async (path: string): Promise<JournalFile> => {
    const failure = faults.failNextCreate
    delete faults.failNextCreate
    if (failure !== undefined) throw failure
    const handle = await open(path, 'ax')
    const name = path.slice(path.lastIndexOf('/') + 1)
    return {
      async write (buffer, offset, length) {
        const tear = faults.tearNextWrite
        delete faults.tearNextWrite
        if (tear !== undefined) {
          await handle.write(buffer, offset, length - 3)
          throw tear
        }
        return await handle.write(buffer, offset, Math.min(length, faults.maxBytesPerWrite ?? length))
      },
      async datasync () {
        await faults.holdSync
        const failure = faults.failNextSync
        delete faults.failNextSync
        if (failure !== undefined) throw failure
        await handle.datasync()
      },
      async close () {
        closed.push(name)
        await handle.close()
      }
    }
  }
  return { createFile, closed }
}

function gate (): { promise: Promise<void>, open: () => void } {
  let open = (): void => {}
  const promise = new Promise<void>(resolve => { open = resolve })
  return { promise, open }
}

const eio = (): Error => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })

t.test('open creates the folder and a first generation', async t => {
  const dir = join(t.testdir(), 'state', 'journal')
  const { journal, recovered, recoveredThrough, skippedLines } = await PlayJournal.open(dir)
  t.teardown(async () => await journal.close())
  t.same({ recovered, recoveredThrough, skippedLines, generation: journal.generation }, {
    recovered: [], recoveredThrough: 0, skippedLines: 0, generation: 1
  })
  t.same(await readdir(dir), ['plays-1.jsonl'])
})

t.test('acknowledged records survive close and reopen, in order, and the next run starts a new generation', async t => {
  const dir = t.testdir()
  const first = await PlayJournal.open(dir)
  const records = [play(0, 1), play(0, 2, 'tune "with" quotes\nand a newline'), play(7, 1)]
  for (const record of records) t.equal(await first.journal.append(record), 1)
  t.same(first.journal.stats, { records: 3, commits: 3 })
  const second = await reopen(first.journal, dir)
  t.teardown(async () => await second.journal.close())
  t.same(second.recovered, records)
  t.equal(second.recoveredThrough, 1)
  t.equal(second.journal.generation, 2)
  t.same((await readdir(dir)).sort(), ['plays-1.jsonl', 'plays-2.jsonl'])
})

t.test('2,000 concurrent appends are each written once, in order, in a handful of commits', async t => {
  const dir = t.testdir()
  const { journal } = await PlayJournal.open(dir)
  const records = Array.from({ length: 2000 }, (_, i) => play(i % 40, Math.floor(i / 40) + 1))
  const generations = await Promise.all(records.map(async r => await journal.append(r)))
  t.ok(generations.every(g => g === 1))
  t.equal(journal.stats.records, 2000)
  t.ok(journal.stats.commits <= 10, `${journal.stats.commits} commits for 2,000 records`)
  const { recovered, journal: next } = await reopen(journal, dir)
  t.teardown(async () => await next.close())
  t.same(recovered, records)
})

t.test('appenders that wait for each commit share the next one and keep their own order', async t => {
  const dir = t.testdir()
  const { journal } = await PlayJournal.open(dir)
  await Promise.all(Array.from({ length: 25 }, async (_, segment) => {
    for (let count = 1; count <= 40; count++) await journal.append(play(segment, count))
  }))
  t.equal(journal.stats.records, 1000)
  t.ok(journal.stats.commits <= 60, `${journal.stats.commits} commits for 1,000 records from 25 appenders`)
  const { recovered, journal: next } = await reopen(journal, dir)
  t.teardown(async () => await next.close())
  for (let segment = 0; segment < 25; segment++) {
    const counts = recovered.filter(r => r.segment === segment).map(r => r.count)
    t.same(counts, Array.from({ length: 40 }, (_, i) => i + 1), `segment ${segment}`)
  }
})

t.test('recovery skips and counts torn or malformed lines, reads generations in numeric order, ignores other files', async t => {
  const good = (s: number, n: number): string => JSON.stringify({ t: 'a', s, n }) + '\n'
  const dir = t.testdir({
    'plays-9.jsonl': good(1, 1) + 'null\n[1]\n42\n{"t":"","s":1,"n":1}\n{"t":"a","s":-1,"n":1}\n{"t":"a","s":1,"n":1.5}\n\n' + good(1, 2),
    'plays-10.jsonl': good(2, 1) + good(2, 2) + '{"t":"a","s":2,', // a crash mid-write
    'plays-x.jsonl': good(9, 9),
    'notes.txt': 'hello'
  })
  const { journal, recovered, recoveredThrough, skippedLines } = await PlayJournal.open(dir)
  t.same(recovered, [play(1, 1, 'a'), play(1, 2, 'a'), play(2, 1, 'a'), play(2, 2, 'a')])
  t.equal(skippedLines, 8)
  t.equal(recoveredThrough, 10)
  t.equal(journal.generation, 11)
  // The torn file is never appended to, so a new line cannot glue onto its tail.
  await journal.append(play(3))
  t.match(await readFile(join(dir, 'plays-10.jsonl'), 'utf8'), /"s":2,$/)
  const again = await reopen(journal, dir)
  t.teardown(async () => await again.journal.close())
  t.same(again.recovered.at(-1), play(3))
  t.equal(again.skippedLines, 8)
})

t.test('append rejects a record that recovery would skip', async t => {
  const { journal } = await PlayJournal.open(t.testdir())
  t.teardown(async () => await journal.close())
  const bad = [
    { track: '', segment: 0, count: 1 },
    { track: 7, segment: 0, count: 1 },
    { track: 'a', segment: -1, count: 1 },
    { track: 'a', segment: 0.5, count: 1 },
    { track: 'a', segment: 0, count: Number.NaN }
  ] as unknown as PlayRecord[]
  for (const record of bad) await t.rejects(journal.append(record), TypeError, JSON.stringify(record))
  t.same(journal.stats, { records: 0, commits: 0 })
})

t.test('rotate sends later appends to a new file and waits for the old one to settle', async t => {
  const dir = t.testdir()
  const faults: Faults = {}
  const files = faultyFiles(faults)
  const { journal } = await PlayJournal.open(dir, { createFile: files.createFile })
  t.equal(await journal.append(play(1)), 1)
  const held = gate()
  faults.holdSync = held.promise
  let inFlightSettled = false
  const inFlight = journal.append(play(2)).finally(() => { inFlightSettled = true })
  let rotated = false
  const rotation = journal.rotate().finally(() => { rotated = true })
  t.equal(journal.generation, 2)
  const after = journal.append(play(3))
  await sleep(50)
  t.notOk(rotated, 'rotate waits while an append to the old generation is in flight')
  delete faults.holdSync
  held.open()
  t.equal(await rotation, 1)
  t.ok(inFlightSettled)
  t.equal(await inFlight, 1)
  t.equal(await after, 2)
  t.same(files.closed, ['plays-1.jsonl'])
  t.same(await linesOf(dir, 1), [play(1), play(2)])
  t.same(await linesOf(dir, 2), [play(3)])
  await journal.close()
  t.same(files.closed, ['plays-1.jsonl', 'plays-2.jsonl'])
})

t.test('retire deletes the generations up to the one given, and never a live one', async t => {
  const dir = t.testdir({ 'plays-1.jsonl': '', 'plays-2.jsonl': '', 'other.jsonl': '' })
  const { journal, recoveredThrough } = await PlayJournal.open(dir)
  t.teardown(async () => await journal.close())
  await journal.append(play(1))
  t.equal(await journal.rotate(), 3)
  await t.rejects(journal.retire(4), RangeError)
  t.same((await readdir(dir)).sort(), ['other.jsonl', 'plays-1.jsonl', 'plays-2.jsonl', 'plays-3.jsonl', 'plays-4.jsonl'])
  await journal.retire(recoveredThrough)
  t.same((await readdir(dir)).sort(), ['other.jsonl', 'plays-3.jsonl', 'plays-4.jsonl'])
  await journal.retire(3)
  t.same((await readdir(dir)).sort(), ['other.jsonl', 'plays-4.jsonl'])
  t.equal(await journal.append(play(2)), 4)
})

t.test('close lets pending appends finish; later appends and rotations reject clearly', async t => {
  const dir = t.testdir()
  const { journal } = await PlayJournal.open(dir)
  const pending = journal.append(play(1))
  const closing = journal.close()
  await t.rejects(journal.append(play(2)), { code: 'EA_JOURNAL_CLOSED', message: /closed/ })
  await t.rejects(journal.rotate(), { code: 'EA_JOURNAL_CLOSED' })
  await closing
  t.equal(await pending, 1)
  await t.resolves(journal.close())
  t.same(await linesOf(dir, 1), [play(1)])
})

t.test('a failed write rejects its whole batch; later records go to a fresh generation', async t => {
  const dir = t.testdir()
  const faults: Faults = {}
  const files = faultyFiles(faults)
  const { journal } = await PlayJournal.open(dir, { createFile: files.createFile })
  await journal.append(play(1))
  faults.tearNextWrite = eio()
  const batch = [journal.append(play(2)), journal.append(play(3))]
  for (const append of batch) await t.rejects(append, { code: 'EIO' })
  t.equal(journal.generation, 2)
  t.same(files.closed, ['plays-1.jsonl'])
  t.equal(await journal.append(play(4)), 2)
  t.same(journal.stats, { records: 2, commits: 2 })
  const { recovered, skippedLines, journal: next } = await reopen(journal, dir)
  t.teardown(async () => await next.close())
  // play 2 was fully written before the failure: a rejected play can still be replayed, harmlessly (max).
  t.same(recovered, [play(1), play(2), play(4)])
  t.equal(skippedLines, 1, 'the torn half of play 3')
})

t.test('a failed fdatasync rejects its batch; records queued behind it move to the fresh generation', async t => {
  const dir = t.testdir()
  const faults: Faults = {}
  const files = faultyFiles(faults)
  const { journal } = await PlayJournal.open(dir, { createFile: files.createFile })
  const held = gate()
  faults.holdSync = held.promise
  faults.failNextSync = eio()
  const failing = journal.append(play(1))
  await sleep(20) // play 1 is now waiting in fdatasync
  const queued = journal.append(play(2))
  delete faults.holdSync
  held.open()
  await t.rejects(failing, { code: 'EIO' })
  t.equal(await queued, 2)
  t.same(await linesOf(dir, 2), [play(2)])
  await journal.close()
})

t.test('a generation file that cannot be created fails open, rotate and the next append, not the journal', async t => {
  const dir = t.testdir()
  const faults: Faults = { failNextCreate: Object.assign(new Error('EACCES'), { code: 'EACCES' }) }
  const files = faultyFiles(faults)
  await t.rejects(PlayJournal.open(dir, { createFile: files.createFile }), { code: 'EACCES' })
  const { journal } = await PlayJournal.open(dir, { createFile: files.createFile })
  t.teardown(async () => await journal.close())
  t.equal(journal.generation, 1)
  faults.failNextCreate = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' })
  await t.rejects(journal.rotate(), { code: 'ENOSPC' })
  await t.rejects(journal.append(play(1)), { code: 'ENOSPC' })
  t.equal(await journal.append(play(2)), 3)
})

t.test('a new file whose folder entry cannot be synced is closed and the error reported', async t => {
  const dir = join(t.testdir(), 'journal')
  let closed = false
  const createFile = async (path: string): Promise<JournalFile> => {
    const handle = await open(path, 'ax')
    await rm(dir, { recursive: true }) // the folder vanishes before it can be synced
    return { write: handle.write.bind(handle), datasync: handle.datasync.bind(handle), close: async () => { closed = true; await handle.close() } }
  }
  await t.rejects(PlayJournal.open(dir, { createFile }), { code: 'ENOENT' })
  t.ok(closed)
})

t.test('short writes are continued until the whole batch is on disk', async t => {
  const dir = t.testdir()
  const files = faultyFiles({ maxBytesPerWrite: 7 })
  const { journal } = await PlayJournal.open(dir, { createFile: files.createFile })
  const records = Array.from({ length: 30 }, (_, i) => play(i))
  await Promise.all(records.map(async r => await journal.append(r)))
  await journal.close()
  t.same(await linesOf(dir, 1), records)
})

t.test('every acknowledged play survives a SIGKILL of the writing process', async t => {
  const dir = t.testdir()
  const tsLoader = sourceLoader()
  const writer = fileURLToPath(new URL('../fixtures/journal-writer.ts', import.meta.url))
  const child = spawn(process.execPath, [...tsLoader, writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise(resolve => child.on('exit', resolve))
  const acked = new Map<number, number>()
  let total = 0
  for await (const line of createInterface({ input: child.stdout })) {
    const [segment, count] = line.split(' ').map(Number) as [number, number]
    acked.set(segment, Math.max(count, acked.get(segment) ?? 0))
    if (++total === 2000) child.kill('SIGKILL')
  }
  t.equal(await exited, null)
  t.ok(total >= 2000, `${total} plays acknowledged before the kill`)
  const { journal, recovered } = await PlayJournal.open(dir)
  t.teardown(async () => await journal.close())
  for (const [segment, max] of acked) {
    const counts = recovered.filter(r => r.segment === segment).map(r => r.count)
    t.ok(counts.length >= max, `segment ${segment}: ${max} acknowledged, ${counts.length} recovered`)
    t.same(counts, Array.from({ length: counts.length }, (_, i) => i + 1), `segment ${segment}: no gap, no reordering`)
  }
})
