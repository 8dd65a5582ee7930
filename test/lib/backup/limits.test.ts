import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createGzip } from 'node:zlib'
import t, { type Test } from 'tap'
import { BackupError, MANIFEST_NAME, createBackupStream, readBackup } from '../../../lib/backup/index.js'
import { NOW, bytesOf, craftArchive, entriesOf, listArchive, makeLibrary, trickle } from './fixtures.js'

const MiB = 1024 * 1024

async function refusal (t: Test, input: Readable, limits: Parameters<typeof readBackup>[2]) {
  const intoDir = t.testdir()
  const refused = await readBackup(input, intoDir, limits).then(() => undefined, (err: unknown) => err)
  t.ok(refused instanceof BackupError)
  t.same(await readdir(intoDir), [], 'nothing is left behind')
  return refused as BackupError
}

t.test('a file whose header claims more than maxBytes is refused before a byte of it is written', async t => {
  const bomb = await craftArchive([{ name: 'tracks/bomb.wav', body: Buffer.alloc(8 * MiB) }])
  t.ok(bomb.length < 16 * 1024, `${bomb.length} bytes of gzip`)
  const refused = await refusal(t, trickle(bomb), { maxBytes: MiB })
  t.match(refused, { statusCode: 413, code: 'EA_BACKUP_TOO_LARGE', message: /^Backup too large: it unpacks to more than 1048576 bytes \(tracks\/bomb\.wav alone is 8388608\)/ })
})

t.test('a gzip bomb of zero blocks stops at maxBytes, long before the input ends', async t => {
  // 1 GiB of zeros, compressed as it is read: ~1 MiB of gzip if it were all read.
  const block = Buffer.alloc(MiB)
  let inflated = 0
  const zeros = Readable.from((function * () {
    for (let i = 0; i < 1024; i++) {
      inflated += block.length
      yield block
    }
  })())
  const refused = await refusal(t, zeros.pipe(createGzip()), { maxBytes: MiB })
  t.match(refused, { statusCode: 413, code: 'EA_BACKUP_TOO_LARGE', message: /it unpacks to more than 1048576 bytes/ })
  t.ok(inflated <= 64 * MiB, `${inflated / MiB} MiB of the bomb's 1024 were made before reading stopped`)
  zeros.destroy()
})

t.test('a file that streams past maxBytes (its tar is cut off mid-way) is removed', async t => {
  const dir = t.testdir({ audio: {} })
  const tracks = await makeLibrary(join(dir, 'audio'), [{ filename: 'a.wav' }, { filename: 'b.wav' }])
  const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
  const total = (await listArchive(archive)).reduce((sum, e) => sum + 512 + Math.ceil(e.header.size / 512) * 512, 1024)
  const refused = await refusal(t, trickle(archive), { maxBytes: total - 1 })
  t.match(refused, { statusCode: 413, message: /unpacks to more than/ })
  const accepted = await readBackup(trickle(archive), t.testdir(), { maxBytes: total })
  t.equal(accepted.files.size, 2, 'exactly the archive size is allowed')
})

t.test('more entries than maxTracks allows', async t => {
  const entries = Array.from({ length: 5 }, (_, i) => ({ name: `tracks/t${i}.wav`, body: 'x' }))
  const refused = await refusal(t, trickle(await craftArchive(entries)), { maxBytes: MiB, maxTracks: 2 })
  t.match(refused, { statusCode: 413, code: 'EA_BACKUP_TOO_LARGE', message: /it has more than 4 entries/ })
})

t.test('a manifest larger than maxManifestBytes is not read into memory', async t => {
  const archive = await craftArchive([{ name: MANIFEST_NAME, body: Buffer.alloc(4096, 0x20) }])
  const refused = await refusal(t, trickle(archive), { maxBytes: MiB, maxManifestBytes: 1000 })
  t.match(refused, { statusCode: 413, message: /manifest\.json is 4096 bytes; at most 1000 are read/ })
})

t.test('a manifest listing more tracks than maxTracks', async t => {
  const manifest = { format: 'ephemeral-audio-backup', schema_version: 1, service_version: '2.0.0', created_at: NOW.toISOString(), tracks: [{}, {}, {}] }
  const refused = await refusal(t, trickle(await craftArchive([{ name: MANIFEST_NAME, body: JSON.stringify(manifest) }])), { maxBytes: MiB, maxTracks: 2 })
  t.match(refused, { statusCode: 422, message: /manifest\.json lists 3 tracks; at most 2 are restored/ })
})
