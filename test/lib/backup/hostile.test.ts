import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { BackupError, MANIFEST_NAME, createBackupStream, readBackup, type BackupManifest } from '../../../lib/backup/index.js'
import { NOW, bytesOf, craftArchive, craftTar, entriesOf, listArchive, makeLibrary, trickle, type CraftedEntry } from './fixtures.js'

const LIMITS = { maxBytes: 16 * 1024 * 1024 }

interface Base {
  archive: Buffer
  /** The track files' entries, as written. */
  files: CraftedEntry[]
  manifest: BackupManifest
}

const dir = t.testdir({ audio: {} })
const base: Base = await (async () => {
  const tracks = await makeLibrary(join(dir, 'audio'), [{ filename: 'first.wav' }, { filename: 'second.wav', wav: { frames: 4000 } }])
  const archive = await bytesOf(createBackupStream(entriesOf(tracks), { serviceVersion: '2.0.0', now: NOW }))
  const entries = await listArchive(archive)
  const manifest = JSON.parse((entries.at(-1)?.body ?? '').toString()) as BackupManifest
  return { archive, files: entries.slice(0, -1).map(e => ({ name: e.header.name, body: e.body })), manifest }
})()

const first = () => base.files[0] as CraftedEntry & { body: Buffer }
const manifestOf = (manifest: unknown): CraftedEntry => ({ name: MANIFEST_NAME, body: JSON.stringify(manifest) })
/** The base archive's manifest, edited. */
function edited (edit: (m: BackupManifest) => void): CraftedEntry {
  const m = structuredClone(base.manifest)
  edit(m)
  return manifestOf(m)
}
const track = (m: BackupManifest, i = 0) => m.tracks[i] as BackupManifest['tracks'][number]
const withEntries = (...extra: CraftedEntry[]) => craftArchive([...base.files, ...extra, manifestOf(base.manifest)])
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

const noise = randomBytes(base.manifest.tracks[0]?.pristine.size ?? 0)

const cases: Array<[string, () => Promise<Buffer> | Buffer, RegExp]> = [
  // Names that would leave the folder.
  ['a parent-relative name', () => withEntries({ name: '../x.wav', body: 'x' }), /entry "\.\.\/x\.wav" climbs out of the archive with \.\./],
  ['.. inside tracks/', () => withEntries({ name: 'tracks/../../evil.wav', body: 'x' }), /climbs out of the archive with \.\./],
  ['an absolute path', () => withEntries({ name: '/etc/passwd', body: 'root:x:0:0' }), /entry "\/etc\/passwd" is an absolute path/],
  ['a backslash', () => withEntries({ name: 'tracks\\..\\evil.wav', body: 'x' }), /has a backslash in its name/],
  ['a NUL byte (through a PAX path)', () => withEntries({ name: 'tracks/é\0.wav', body: 'x' }), /has a NUL byte in its name/],
  // Anything but a regular file.
  ['a symbolic link', () => withEntries({ name: 'tracks/link.wav', type: 'symlink', linkname: '/etc/passwd' }), /entry "tracks\/link\.wav" is a symbolic link; only regular files/],
  ['a hard link', () => withEntries({ name: 'tracks/link.wav', type: 'link', linkname: 'tracks/first.wav' }), /is a hard link/],
  ['a character device', () => withEntries({ name: 'tracks/tty.wav', type: 'character-device', devmajor: 5, devminor: 0 }), /is a character device/],
  ['a block device', () => withEntries({ name: 'tracks/sda.wav', type: 'block-device', devmajor: 8, devminor: 0 }), /is a block device/],
  ['a FIFO', () => withEntries({ name: 'tracks/pipe.wav', type: 'fifo' }), /is a FIFO/],
  ['a directory where a track belongs', () => withEntries({ name: 'tracks/folder.wav', type: 'directory' }), /"tracks\/folder\.wav\/?" is a directory/],
  ['a contiguous file', () => withEntries({ name: 'tracks/c.wav', type: 'contiguous-file', body: 'x' }), /is a contiguous file/],
  // Regular files with names that are not ours.
  ['a file outside tracks/', () => withEntries({ name: 'elsewhere.wav', body: 'x' }), /"elsewhere\.wav" is neither manifest\.json nor tracks\/<track name>/],
  ['a ./ prefix', () => withEntries({ name: './manifest.json', body: '{}' }), /is neither manifest\.json nor tracks/],
  ['a name that is not a WAV', () => withEntries({ name: 'tracks/notes.txt', body: 'x' }), /"tracks\/notes\.txt" is not a track: only \.wav files are served/],
  ['a hidden name', () => withEntries({ name: 'tracks/.hidden.wav', body: 'x' }), /is not a track: the file name must not start with a dot/],
  ['a sub-folder', () => withEntries({ name: 'tracks/sub/x.wav', body: 'x' }), /is not a track: the file name must not contain slashes/],
  ['a name over 200 bytes', () => withEntries({ name: `tracks/${'a'.repeat(201)}.wav`, body: 'x' }), /is not a track: the file name is longer than 200 bytes/],
  // Duplicates.
  ['the same track twice', () => withEntries(first()), /tracks\/first\.wav appears twice/],
  ['the same track in another case', () => withEntries({ ...first(), name: 'tracks/FIRST.WAV' }), /tracks\/FIRST\.WAV appears twice \(as tracks\/first\.wav: names that differ only in case are one track\)/],
  ['two manifests', () => withEntries(manifestOf(base.manifest)), /manifest\.json appears twice/],
  // The manifest itself.
  ['no manifest', () => craftArchive(base.files), /the archive has no manifest\.json/],
  ['another schema version', () => craftArchive([...base.files, edited(m => { (m as { schema_version: number }).schema_version = 2 })]), /manifest\.json has schema_version 2; this service reads version 1/],
  ['no schema version', () => craftArchive([...base.files, edited(m => { delete (m as Partial<BackupManifest>).schema_version })]), /manifest\.json has no schema_version/],
  ['another format', () => craftArchive([...base.files, edited(m => { (m as { format: string }).format = 'tarball' })]), /does not say it is an ephemeral-audio-backup \(format: "tarball"\)/],
  ['a manifest that is not JSON', () => craftArchive([...base.files, { name: MANIFEST_NAME, body: '{"format":' }]), /manifest\.json is not valid UTF-8 JSON/],
  ['a manifest that is not UTF-8', () => craftArchive([...base.files, { name: MANIFEST_NAME, body: Buffer.from([0x22, 0xff, 0x22]) }]), /manifest\.json is not valid UTF-8 JSON/],
  ['a manifest that is a list', () => craftArchive([...base.files, manifestOf([])]), /manifest\.json is not a JSON object/],
  ['no tracks list', () => craftArchive([...base.files, edited(m => { delete (m as Partial<BackupManifest>).tracks })]), /manifest\.json has no tracks list/],
  // The manifest against the files.
  ['a checksum mismatch', () => {
    const body = Buffer.from(first().body)
    body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0xff
    return craftArchive([{ ...first(), body }, ...base.files.slice(1), manifestOf(base.manifest)])
  }, /tracks\/first\.wav does not match its SHA-256 in manifest\.json \(checksum mismatch\)/],
  ['a size mismatch', () => craftArchive([{ ...first(), body: Buffer.concat([first().body, Buffer.alloc(2)]) }, ...base.files.slice(1), manifestOf(base.manifest)]), /tracks\/first\.wav is \d+ bytes; manifest\.json says \d+/],
  ['a listed file that is absent', () => craftArchive([...base.files.slice(1), manifestOf(base.manifest)]), /manifest\.json lists tracks\/first\.wav, which is not in the archive/],
  ['a file the manifest does not list', () => withEntries({ name: 'tracks/extra.wav', body: first().body }), /tracks\/extra\.wav is in the archive but not in manifest\.json/],
  ['a malformed SHA-256', () => craftArchive([...base.files, edited(m => { track(m).pristine.sha256 = 'ABC' })]), /track 1: "first\.wav": its sha256 is not 64 lower-case hex digits/],
  ['a pristine path that is not its name', () => craftArchive([...base.files, edited(m => { track(m).pristine.path = 'tracks/second.wav' })]), /its pristine file must be "tracks\/first\.wav", not "tracks\/second\.wav"/],
  ['metadata naming another file', () => craftArchive([...base.files, edited(m => { track(m).metadata.filename = 'other.wav' })]), /its pristine file must be "tracks\/other\.wav", not "tracks\/first\.wav"/],
  ['a track listed twice', () => craftArchive([...base.files, edited(m => { m.tracks.push(structuredClone(track(m))) })]), /lists "first\.wav" twice/],
  ['two tracks with one identity', () => craftArchive([...base.files, edited(m => { track(m, 1).metadata.track_id = track(m).metadata.track_id })]), /gives "second\.wav" the track_id of another track/],
  // Metadata a restore cannot trust.
  ["the Flask service's metadata", () => craftArchive([...base.files, edited(m => { delete (track(m).metadata as Partial<BackupManifest['tracks'][0]['metadata']>).metadata_version })]), /track 1: its metadata is not valid: it is not this service's metadata \(it looks like the Flask service's\)/],
  ['a negative count', () => craftArchive([...base.files, edited(m => { track(m).metadata.segment_play_counts[0] = -1 })]), /it is not this service's metadata \(it looks invalid\)/],
  ['counts of another length', () => craftArchive([...base.files, edited(m => { track(m).metadata.segment_play_counts.push(0) })]), /it has \d+ segment_play_counts for \d+ segments/],
  ['baseline counts of another length', () => craftArchive([...base.files, edited(m => { track(m).metadata.baseline_play_counts.pop() })]), /it has \d+ baseline_play_counts for \d+ segments/],
  ['a file size the pristine copy does not have', () => craftArchive([...base.files, edited(m => { track(m).metadata.file.size += 1 })]), /its pristine file is \d+ bytes but its metadata says the track's file is \d+/],
  ['another layout', () => craftArchive([...base.files, edited(m => { track(m).metadata.layout.dataOffset += 4 })]), /the metadata of tracks\/first\.wav describes another WAV layout than its audio/],
  ['another segment count', () => craftArchive([...base.files, edited(m => {
    const meta = track(m).metadata
    meta.total_segments += 1
    meta.segment_play_counts.push(0)
    meta.baseline_play_counts.push(0)
  })]), /the metadata of tracks\/first\.wav counts \d+ segments; its audio has \d+ of 0\.25 s/],
  ['audio that is not a WAV', () => craftArchive([{ ...first(), body: noise }, ...base.files.slice(1), edited(m => { track(m).pristine.sha256 = sha256(noise) })]), /tracks\/first\.wav is not a WAV the service plays: /],
  // Broken or cut-short streams.
  ...[0, 1, 10, 100, 0.5, -8, -1].map((at): [string, () => Buffer, RegExp] => {
    const cut = (b: Buffer) => b.subarray(0, at < 0 ? b.length + at : at < 1 ? Math.floor(b.length * at) : at)
    return [`a gzip stream cut at ${at}`, () => cut(base.archive), /the gzip stream is truncated/]
  }),
  ['garbage instead of gzip', () => randomBytes(5000), /it is not a valid gzip stream \(incorrect header check\)/],
  ['garbage after the gzip stream', () => Buffer.concat([base.archive, Buffer.from('trailing bytes')]), /it is not a valid gzip stream/],
  ['a tar cut inside a file', async () => gzipSync((await craftTar([...base.files, manifestOf(base.manifest)])).subarray(0, 3000)), /the tar archive is truncated \(unexpected end of data\)/],
  ['a tar cut between entries', async () => gzipSync((await craftTar([...base.files, manifestOf(base.manifest)])).subarray(0, -1024)), /the tar archive is truncated \(it lacks its end-of-archive blocks\)/],
  ['gzipped garbage', () => gzipSync(randomBytes(4096)), /it is not a valid tar archive \(Invalid tar header/]
]

for (const [name, archive, message] of cases) {
  t.test(`refused: ${name}`, async t => {
    const intoDir = t.testdir()
    const refused = await readBackup(trickle(await archive()), intoDir, LIMITS).then(() => undefined, (err: unknown) => err)
    t.ok(refused instanceof BackupError, `a BackupError, not ${String(refused)}`)
    t.match(refused, { statusCode: 422, code: 'EA_BAD_BACKUP', message: /^Invalid backup: / })
    t.match((refused as Error).message, message)
    t.same(await readdir(intoDir), [], 'nothing is left behind')
  })
}

t.test('the base archive itself is accepted', async t => {
  const { files } = await readBackup(trickle(base.archive), t.testdir(), LIMITS)
  t.equal(files.size, 2)
})
