import { once } from 'node:events'
import type { ReadStream } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { PassThrough, Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { BackupError, createBackupStream, readBackup, type BackupEntry } from '../../../lib/backup/index.js'
import type { TrackMetadata } from '../../../lib/track-metadata.js'
import { NOW, bytesOf, entriesOf, makeLibrary, trickle } from './fixtures.js'

const LIMITS = { maxBytes: 16 * 1024 * 1024 }
const MiB = 1024 * 1024

async function library (t: Test) {
  const dir = t.testdir({ audio: {} })
  return await makeLibrary(join(dir, 'audio'), [{ filename: 'a.wav' }, { filename: 'b.wav' }])
}

const failureOf = async (stream: Readable) => await bytesOf(stream).then(() => undefined, (err: unknown) => err as Error)

/** `bytes` bytes of a repeating pattern, made as they are read, counting what was pulled. */
function generated (bytes: number) {
  const chunk = Buffer.alloc(64 * 1024, 'pattern!')
  const source = { pulled: 0, destroyed: false, stream: undefined as unknown as Readable }
  source.stream = new Readable({
    read () {
      const size = Math.min(chunk.length, bytes - source.pulled)
      source.pulled += size
      this.push(size > 0 ? chunk.subarray(0, size) : null)
    },
    destroy (err, callback) { source.destroyed = true; callback(err) }
  })
  return source
}

function metadataOfSize (base: TrackMetadata, filename: string, size: number): TrackMetadata {
  return { ...structuredClone(base), filename, title: filename.replace(/\.wav$/, ''), file: { ...base.file, size } }
}

t.test('readBackup', async t => {
  t.test('wants an empty folder and touches nothing in one that is not', async t => {
    const dir = t.testdir({ audio: {}, restored: { 'keep.txt': 'mine' } })
    const tracks = await makeLibrary(join(dir, 'audio'), [{ filename: 'a.wav' }])
    const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
    const intoDir = join(dir, 'restored')
    await t.rejects(readBackup(trickle(archive), intoDir, LIMITS), /must be empty/)
    t.same(await readdir(intoDir), ['keep.txt'])
  })

  t.test("refusing stops reading, but leaves the caller's stream open", async t => {
    const input = new PassThrough()
    input.write(Buffer.from('this is not gzip at all'))
    const refused = await readBackup(input, t.testdir(), LIMITS).then(() => undefined, (err: unknown) => err)
    t.ok(refused instanceof BackupError)
    t.notOk(input.destroyed, 'the caller decides whether to drain or close it')
    input.destroy()
  })

  t.test("the input's own failure is passed on as it is, and what was written is removed", async t => {
    const dir = t.testdir({ audio: {}, restored: {} })
    const tracks = await makeLibrary(join(dir, 'audio'), [{ filename: 'a.wav' }, { filename: 'b.wav' }])
    const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
    const intoDir = join(dir, 'restored')
    const lost = new Error('connection reset by peer')
    const input = (async function * () {
      yield archive.subarray(0, archive.length - 200) // the first file is whole and written by now
      await new Promise(resolve => setTimeout(resolve, 20))
      throw lost
    })()
    await t.rejects(readBackup(input, intoDir, LIMITS), lost)
    t.same(await readdir(intoDir), [])
  })
})

t.test('restoring does not keep the chunks it has read (a Promise.race against one pending promise held every one)', async t => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const dir = t.testdir({ audio: {}, restored: {} })
  const tracks = await makeLibrary(join(dir, 'audio'), [{ filename: 'long.wav', wav: { frames: 1_000_000 } }])
  const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
  const PIECE = 64 * 1024
  const read: Array<WeakRef<Buffer>> = []
  let alive = -1
  const input = (async function * () {
    for (let i = 0; i < archive.length; i += PIECE) {
      if (i + PIECE >= archive.length) {
        await new Promise(resolve => setImmediate(resolve))
        gc()
        alive = read.filter(ref => ref.deref() !== undefined).length
      }
      const piece = Buffer.from(archive.subarray(i, i + PIECE))
      read.push(new WeakRef(piece))
      yield piece
    }
  })()
  await readBackup(input, join(dir, 'restored'), LIMITS)
  t.ok(read.length > 50, `${read.length} pieces`)
  t.ok(alive >= 0 && alive < 8, `${alive} of the ${read.length - 1} pieces read before the last are still in memory`)
})

t.test('createBackupStream', async t => {
  t.test('a pristine copy larger than announced fails the stream (the client sees a cut gzip)', async t => {
    const [a] = await library(t)
    if (a === undefined) throw new Error('no track')
    const entry: BackupEntry = { ...entriesOf([a])[0] as BackupEntry, size: a.size - 2, metadata: metadataOfSize(a.metadata, 'a.wav', a.size - 2) }
    const failure = await failureOf(createBackupStream([entry], { serviceVersion: '2.0.0' }))
    t.match(failure, { message: /tracks\/a\.wav grew past \d+ bytes while it was read/ })
  })

  t.test('a pristine copy smaller than announced fails the stream', async t => {
    const [a] = await library(t)
    if (a === undefined) throw new Error('no track')
    const entry: BackupEntry = { ...entriesOf([a])[0] as BackupEntry, size: a.size + 2, metadata: metadataOfSize(a.metadata, 'a.wav', a.size + 2) }
    t.match(await failureOf(createBackupStream([entry], { serviceVersion: '2.0.0' })), { message: /tracks\/a\.wav has \d+ bytes, not \d+/ })
  })

  t.test('what a restore would refuse is refused when the backup is made', async t => {
    const tracks = await library(t)
    const [a, b] = entriesOf(tracks) as [BackupEntry, BackupEntry]
    const cases: Array<[string, BackupEntry[], RegExp]> = [
      ['a size that is not the metadata\'s', [{ ...a, size: a.size + 1 }], /the pristine copy of "a\.wav" is \d+ bytes but its metadata says \d+/],
      ['a name given twice', [a, { ...b, metadata: { ...b.metadata, filename: 'A.WAV' } }], /"A\.WAV" is given twice/],
      ['metadata that is not ours', [{ ...a, metadata: { ...a.metadata, track_id: undefined as unknown as string } }], /the metadata of "a\.wav" would not be restored: it is not this service's metadata/],
      ['a name that is not a track name', [{ ...a, metadata: { ...a.metadata, filename: '../a.wav' } }], /would not be restored: its filename is not a track name/]
    ]
    for (const [name, entries, message] of cases) t.match(await failureOf(createBackupStream(entries, { serviceVersion: '2.0.0' })), { message }, name)
  })

  t.test('a pristine copy that cannot be opened fails the stream with its error', async t => {
    const [a] = entriesOf(await library(t)) as [BackupEntry]
    const gone = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })
    t.equal(await failureOf(createBackupStream([{ ...a, pristine: async () => { throw gone } }], { serviceVersion: '2.0.0' })), gone)
  })

  t.test('a failing library listing fails the stream with its error', async t => {
    const broken = new Error('metadata store closed')
    const entries = (async function * (): AsyncGenerator<BackupEntry> { throw broken })()
    t.equal(await failureOf(createBackupStream(entries, { serviceVersion: '2.0.0' })), broken)
  })

  t.test('a slow reader slows the reading of the files: nothing piles up in memory', async t => {
    const size = 200 * MiB
    const source = generated(size)
    const [a] = await library(t)
    if (a === undefined) throw new Error('no track')
    let listingClosed = false
    const entries = (async function * (): AsyncGenerator<BackupEntry> {
      try {
        yield { metadata: metadataOfSize(a.metadata, 'big.wav', size), size, pristine: () => source.stream }
      } finally {
        listingClosed = true
      }
    })()
    const output = createBackupStream(entries, { serviceVersion: '2.0.0' })
    await once(output, 'readable')
    t.ok(output.read(), 'the archive starts while the file is still being read')
    await new Promise(resolve => setTimeout(resolve, 200))
    t.ok(source.pulled < 4 * MiB, `${(source.pulled / MiB).toFixed(2)} MiB of ${size / MiB} pulled while the reader waits`)
    output.destroy()
    await until(() => source.destroyed && listingClosed)
    t.ok(source.destroyed, 'an early end closes the pristine copy')
    t.ok(listingClosed, 'and the listing')
  })

  t.test('a reader gone while the listing waits (for a track gate, say) reads no more files, and closes every one it was given', async t => {
    const [a, b] = entriesOf(await library(t)) as [BackupEntry, BackupEntry]
    let gateOpen = () => {}
    const gate = new Promise<void>(resolve => { gateOpen = resolve })
    const opened: ReadStream[] = []
    const open = (entry: BackupEntry) => () => {
      const stream = entry.pristine() as ReadStream
      opened.push(stream)
      return stream
    }
    let listingClosed = false
    let atGate = false
    const entries = (async function * (): AsyncGenerator<BackupEntry> {
      try {
        yield { ...a, pristine: open(a) }
        atGate = true
        await gate
        yield { ...b, pristine: open(b) }
      } finally {
        listingClosed = true
      }
    })()
    const output = createBackupStream(entries, { serviceVersion: '2.0.0' })
    output.resume()
    await until(() => atGate)
    output.destroy()
    gateOpen()
    // Polled rather than slept: on a loaded machine a fixed 50 ms was not always enough.
    await until(() => listingClosed && opened.length === 2 && opened.every(stream => stream.destroyed))
    t.equal(opened.length, 2, 'the caller opened both')
    t.ok(opened.every(stream => stream.destroyed), 'both are closed')
    t.equal(opened[1]?.bytesRead, 0, 'nothing of the second was read')
    t.ok(listingClosed)
  })

  t.test('an entry refused is closed too', async t => {
    const [a] = entriesOf(await library(t)) as [BackupEntry]
    let stream: ReadStream | undefined
    const refused = { ...a, size: a.size + 1, pristine: () => (stream = a.pristine() as ReadStream) }
    t.match(await failureOf(createBackupStream([refused], { serviceVersion: '2.0.0' })), { message: /is \d+ bytes but its metadata says/ })
    t.ok(stream?.destroyed)
  })

  t.test('a backup stream consumed by a file keeps its bytes', async t => {
    const dir = t.testdir({ audio: {}, restored: {} })
    const tracks = await makeLibrary(join(dir, 'audio'), [{ filename: 'a.wav' }, { filename: 'b.wav' }])
    const path = join(dir, 'backup.tar.gz')
    await writeFile(path, createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
    const { files } = await readBackup(trickle(await readFile(path)), join(dir, 'restored'), LIMITS)
    t.same([...files.keys()], ['a.wav', 'b.wav'])
  })
})

/** Resolves once `done()` holds (checked every 5 ms), or after 10 s, leaving the assertions to say what is wrong. */
async function until (done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 10_000; waited += 5) await new Promise(resolve => setTimeout(resolve, 5))
}
