import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../../app.js'
import { buildTestApp, type TapTest } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'

// A real small file system (tmpfs) for METADATA_DIR: filled up, or remounted read-only.

/** Mounting needs root (CI and the dev machines run as root); elsewhere these tests are skipped, saying why. */
const skip = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'ephemeral-disk-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' })
    execFileSync('umount', [dir], { stdio: 'ignore' })
    return false
  } catch {
    return 'needs root to mount a tmpfs'
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})()

async function smallDisk (t: TapTest, size = '4m'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
  t.teardown(async () => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

/** Write into `dir` until the disk says it is full. */
async function fill (dir: string): Promise<void> {
  const file = await open(join(dir, 'ballast'), 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (;;) await file.write(chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    await file.close().catch(() => {})
  }
}

const remount = (dir: string, mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'ignore' })

t.test('a full METADATA_DIR: the listing keeps working, a new track says why it is not served, plays answer 503 in words', { skip }, async t => {
  const disk = await smallDisk(t)
  const { app, audioDir } = await buildTestApp(t, { tracks: { 'old.wav': { frames: 8000 } }, env: { METADATA_DIR: join(disk, 'metadata'), DEGRADE_RATE_LIMIT: 0 } })
  t.equal((await app.inject({ method: 'POST', url: '/degrade/old.wav', payload: { segment_index: 0 } })).statusCode, 200)
  await fill(disk)
  await writeTestWav(join(audioDir, 'new.wav'), { frames: 8000 * 30 })

  const list = await app.inject('/tracks')
  t.equal(list.statusCode, 200, 'one track that cannot be prepared does not take the listing down')
  t.same(list.json().map((x: { filename: string }) => x.filename), ['old.wav'])
  const info = (await app.inject('/')).json()
  t.match(info.tracks_excluded, [{ filename: 'new.wav', reason: /disk is full/ }])
  for (const url of ['/stats/new.wav', '/stream/new.wav']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 503, url)
    t.match(res.json(), { code: 'EA_DISK_FULL', message: /disk is full/ })
    t.equal(res.headers['retry-after'], '60')
  }
  t.equal((await app.inject('/stream/old.wav')).statusCode, 200, 'what is ready is still served')

  // The journal's last page may still take a few records; then plays are refused, never acknowledged and lost.
  let acknowledged = 1
  let refused: { statusCode: number, json: () => { code: string, message: string } } | undefined
  for (let i = 0; i < 5000 && refused === undefined; i++) {
    const play = await app.inject({ method: 'POST', url: '/degrade/old.wav', payload: { segment_index: 1 } })
    if (play.statusCode === 200) acknowledged++
    else refused = play
  }
  t.equal(refused?.statusCode, 503, 'a play that cannot be made durable is not acknowledged')
  t.match(refused?.json(), { code: 'EA_DISK_FULL', message: /disk is full/ })
  await app.degrader.checkpoint().catch(() => {}) // fails too: the metadata cannot be written

  await rm(join(disk, 'ballast'))
  const later = await app.inject({ method: 'POST', url: '/degrade/old.wav', payload: { segment_index: 1 } })
  t.equal(later.statusCode, 200, 'plays resume once space is freed')
  acknowledged++
  t.equal((await app.inject('/stats/new.wav')).statusCode, 200, 'and the new track is prepared')
  await app.close()
  const again = await buildTestApp(t, { dirs: { audioDir, metadataDir: join(disk, 'metadata') } })
  const counts = (await again.app.inject('/stats/old.wav')).json().segment_play_counts as number[]
  t.equal(counts[0]! + counts[1]!, acknowledged, 'every acknowledged play is kept, no refused one counted')
})

t.test('a disk that turns read-only at runtime: plays answer 503 saying so; nothing acknowledged is lost', async t => {
  // A mounted file system with open writers cannot be remounted read-only: the error comes from the write itself.
  const first = await buildTestApp(t, { tracks: { 'x.wav': { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (let i = 0; i < 3; i++) t.equal((await first.app.inject({ method: 'POST', url: '/degrade/x.wav', payload: { segment_index: 0 } })).statusCode, 200)
  const writeSpan = first.app.wav.writeSpan
  first.app.wav.writeSpan = async () => { throw Object.assign(new Error('read-only file system'), { code: 'EROFS' }) }
  const res = await first.app.inject({ method: 'POST', url: '/degrade/x.wav', payload: { segment_index: 1 } })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'EA_DISK_READ_ONLY', message: /read-only/ })
  t.equal((await first.app.inject('/stream/x.wav')).statusCode, 200, 'listening goes on')
  first.app.wav.writeSpan = writeSpan
  await first.app.close()
  const second = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir } })
  t.same((await second.app.inject('/stats/x.wav')).json().segment_play_counts, [3, 1], 'the journal kept the play whose rendering failed, and the restart rendered it')
})

t.test('booting on a read-only METADATA_DIR names the real cause', { skip }, async t => {
  const disk = await smallDisk(t)
  const audioDir = await mkdtemp(join(tmpdir(), 'ephemeral-audio-'))
  t.teardown(async () => await rm(audioDir, { recursive: true, force: true }))
  await mkdir(join(disk, 'existing'))
  remount(disk, 'ro')
  for (const metadataDir of [join(disk, 'missing', 'metadata'), join(disk, 'existing')]) {
    await t.rejects(buildApp({ env: { AUDIO_DIR: audioDir, METADATA_DIR: metadataDir, DEMO_TRACK: false } }),
      { message: new RegExp(`METADATA_DIR \\(${metadataDir}\\) cannot be written: its file system is read-only \\(EROFS\\)`) }, metadataDir)
  }
  t.same(await readFile(join(audioDir, 'nothing'), 'utf8').catch(() => 'absent'), 'absent')
})

t.test('a disk that fills up during a restore: 503 in words; the track it was replacing keeps its audio and plays; nothing is left behind', { skip }, async t => {
  const admin = { authorization: 'Bearer disk-token' }
  const source = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 }, 'b.wav': { frames: 8000 * 100 } }, env: { ADMIN_TOKEN: 'disk-token' } })
  const archive = (await source.app.inject({ url: '/admin/backup', headers: admin })).rawPayload
  const disk = await smallDisk(t)
  const audioDir = join(disk, 'audio')
  const metadataDir = join(disk, 'metadata')
  await mkdir(audioDir)
  await writeTestWav(join(audioDir, 'b.wav'), { frames: 8000 })
  const served = await buildTestApp(t, { dirs: { audioDir, metadataDir }, env: { ADMIN_TOKEN: 'disk-token', DEGRADE_RATE_LIMIT: 0 } })
  for (let i = 0; i < 3; i++) t.equal((await served.app.inject({ method: 'POST', url: '/degrade/b.wav', payload: { segment_index: 0 } })).statusCode, 200)
  const before = (await served.app.inject('/stream/b.wav')).rawPayload

  const res = await served.app.inject({ method: 'POST', url: '/admin/restore?mode=replace', headers: { ...admin, 'content-type': 'application/gzip' }, payload: archive })
  t.equal(res.statusCode, 503, 'the 1.6 MB track cannot be staged twice on a 4 MB disk')
  t.match(res.json(), { code: 'EA_DISK_FULL', message: /disk is full/ })
  t.same((await served.app.inject('/stream/b.wav')).rawPayload, before, 'b.wav is the track it was')
  t.same((await served.app.inject('/stats/b.wav')).json().segment_play_counts, [3, 0])
  t.equal((await served.app.inject({ method: 'POST', url: '/degrade/b.wav', payload: { segment_index: 1 } })).statusCode, 200, 'and plays go on')
  const leftovers = (await readdir(disk, { recursive: true })).filter(name => /\.tmp$|\.upload-|\.restore-/.test(name))
  t.same(leftovers, [], 'no temporary file is left')

  await served.app.close()
  const again = await buildTestApp(t, { dirs: { audioDir, metadataDir } })
  t.same((await again.app.inject('/stats/b.wav')).json().segment_play_counts, [3, 1], 'every acknowledged play survives a restart')
})

t.test('a full METADATA_DIR while people listen: the history keeps what it cannot write, and writes it once space is freed', { skip }, async t => {
  const disk = await smallDisk(t)
  const token = 'disk-token'
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 } }, env: { METADATA_DIR: join(disk, 'metadata'), ADMIN_TOKEN: token } })
  await fill(disk)
  const LISTENS = 2000
  const refused: number[] = []
  for (let i = 0; i < LISTENS; i++) {
    // Listens are counted in memory (saved at checkpoints), so they go on while the disk is full.
    const res = await app.inject({ url: '/stream/a.wav', headers: { 'user-agent': `listener ${i}` } })
    if (res.statusCode !== 200) refused.push(res.statusCode)
  }
  t.same(refused, [], 'every listen served')
  await app.analytics.flush()
  t.ok(app.analytics.stats().failures >= 1, `the history refused ${app.analytics.stats().failures} batch(es) while the disk was full`)
  t.equal(app.analytics.stats().pending, LISTENS, 'and kept every listen in memory')
  t.equal(app.analytics.stats().dropped, 0)

  await rm(join(disk, 'ballast'))
  await app.analytics.flush()
  t.equal(app.analytics.stats().pending, 0, 'written once space is freed')
  const figures = (await app.inject({ url: '/admin/analytics', headers: { authorization: `Bearer ${token}` } })).json()
  t.equal(figures.totals.listens, LISTENS, 'every listen is in the history')
  t.equal(figures.days.reduce((n: number, d: { listeners: number }) => n + d.listeners, 0), LISTENS, 'each a listener of its own')
})
