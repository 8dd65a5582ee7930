import { spawnSync } from 'node:child_process'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { MANIFEST_NAME, createBackupStream, readBackup, type BackupManifest } from '../../../lib/backup/index.js'
import { encodeManifest } from '../../../lib/backup/manifest.js'
import { NOW, bytesOf, craftArchive, entriesOf, listArchive, makeLibrary, trickle } from './fixtures.js'

const LIMITS = { maxBytes: 64 * 1024 * 1024 }
/** Over 100 bytes and not ASCII: tar-stream must carry it in a PAX header. */
const LONG_NAME = `${'Ünïcödé — a rather long title, '.repeat(3)}take 2.wav`

async function library (t: Test) {
  const dir = t.testdir({ audio: {}, restored: {} })
  const tracks = await makeLibrary(join(dir, 'audio'), [
    { filename: 'first.wav' },
    { filename: 'Mono 8-bit.WAV', wav: { channels: 1, bitsPerSample: 8, frames: 3000 } },
    { filename: 'float.wav', wav: { encoding: 'float', bitsPerSample: 32, sampleRate: 44100, frames: 20000 } },
    { filename: LONG_NAME, wav: { frames: 2100 } }
  ])
  return { dir, tracks, intoDir: join(dir, 'restored') }
}

t.test('a backup reads back to the same files and the same manifest', async t => {
  const { tracks, intoDir } = await library(t)
  const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
  const { manifest, files } = await readBackup(trickle(archive), intoDir, LIMITS)

  t.equal(manifest.format, 'ephemeral-audio-backup')
  t.equal(manifest.schema_version, 1)
  t.equal(manifest.service_version, '2.0.0')
  t.equal(manifest.created_at, NOW.toISOString())
  t.same(manifest.tracks.map(track => track.metadata), tracks.map(track => track.metadata))
  t.same([...files.keys()], tracks.map(track => track.metadata.filename))
  for (const track of tracks) {
    const entry = manifest.tracks.find(m => m.metadata.filename === track.metadata.filename)
    t.same(entry?.pristine.size, track.size)
    t.equal(entry?.pristine.path, `tracks/${track.metadata.filename}`)
    t.same(await readFile(files.get(track.metadata.filename) as string), await readFile(track.path), `${track.metadata.filename} is byte-identical`)
  }
  t.same((await readdir(intoDir)).sort(), tracks.map(track => track.metadata.filename).sort())

  // The manifest in the archive is, byte for byte, the one read back.
  const entries = await listArchive(archive)
  t.same(entries.map(e => e.header.name), [...tracks.map(track => `tracks/${track.metadata.filename}`), MANIFEST_NAME], 'the tracks in the order given, then the manifest')
  t.same(entries.at(-1)?.body, encodeManifest(manifest))
})

t.test('the same library at the same time gives the same bytes', async t => {
  const { tracks } = await library(t)
  const first = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
  const second = await bytesOf(createBackupStream((async function * () { yield * entriesOf(tracks) })(), { serviceVersion: '2.0.0', now: NOW }))
  t.ok(first.equals(second))
})

t.test('an empty library is a manifest alone', async t => {
  const intoDir = t.testdir()
  const archive = await bytesOf(createBackupStream([], { serviceVersion: '2.0.0' }))
  const { manifest, files } = await readBackup(trickle(archive), intoDir, LIMITS)
  t.same(manifest.tracks, [])
  t.equal(files.size, 0)
  t.ok(Date.parse(manifest.created_at) > 0)
})

t.test('an archive unpacked and repacked by hand (manifest first, a tracks/ folder entry) still restores', async t => {
  const { tracks, intoDir } = await library(t)
  const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
  const entries = await listArchive(archive)
  const manifest = entries.at(-1) as { body: Buffer }
  const repacked = await craftArchive([
    { name: MANIFEST_NAME, body: manifest.body },
    { name: 'tracks/', type: 'directory' },
    ...entries.slice(0, -1).reverse().map(e => ({ name: e.header.name, body: e.body, mode: 0o600, mtime: new Date(0) }))
  ])
  const restored = await readBackup(trickle(repacked), intoDir, LIMITS)
  t.same(restored.manifest, JSON.parse(manifest.body.toString()) as BackupManifest)
  t.equal(restored.files.size, tracks.length)
})

const systemTar = spawnSync('tar', ['--version']).error === undefined

t.test('the system tar reads the archive', { skip: systemTar ? false : 'no tar on this system' }, async t => {
  const { dir, tracks } = await library(t)
  const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
  const listed = spawnSync('tar', ['-tzf', '-'], { input: archive, encoding: 'utf8' })
  t.equal(listed.status, 0, listed.stderr)
  t.same(listed.stdout.trim().split('\n'), [...tracks.map(track => `tracks/${track.metadata.filename}`), MANIFEST_NAME])
  const out = join(dir, 'by-tar')
  await mkdir(out)
  t.equal(spawnSync('tar', ['-xzf', '-', '-C', out], { input: archive }).status, 0)
  t.same(await readFile(join(out, 'tracks', LONG_NAME)), await readFile(join(dir, 'audio', LONG_NAME)))
})
