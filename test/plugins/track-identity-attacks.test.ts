import t from 'tap'
import { link, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { once } from 'node:events'
import { buildTestApp, listen, type TapTest } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { expectedSegment, readMetadata, readSegment } from '../segment-io.js'
import { startService } from '../service-process.js'

// Regressions found by attacking the TrackStore as a hostile user would
// (issue 10's review): each failed before the fix that names it.

const degrade = (app: Awaited<ReturnType<typeof buildTestApp>>['app'], name: string, segment = 0) =>
  app.inject({ method: 'POST', url: `/degrade/${name}`, payload: { segment_index: segment } })

async function restart (t: TapTest, first: { app: { close: () => Promise<unknown> }, audioDir: string, metadataDir: string }, env: Record<string, string | number> = {}) {
  await first.app.close()
  return await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir }, env: { DEGRADE_RATE_LIMIT: 0, ...env } })
}

t.test('a file moved out of AUDIO_DIR and back keeps its plays (retiring saves them)', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (let i = 0; i < 10; i++) t.equal((await degrade(served.app, 'a.wav')).statusCode, 200)
  const away = join(served.audioDir, '..', 'away.wav')
  await rename(join(served.audioDir, 'a.wav'), away)
  t.same((await served.app.inject('/tracks')).json(), [])
  await rename(away, join(served.audioDir, 'a.wav'))
  t.equal((await served.app.inject('/stats/a.wav')).json().segment_play_counts[0], 10)
  const second = await restart(t, served)
  t.equal((await second.app.inject('/stats/a.wav')).json().segment_play_counts[0], 10, 'and after a restart')
  const meta = await readMetadata(second.metadataDir, 'a.wav')
  t.same(await readFile(join(second.metadataDir, 'originals', 'a.wav')).then(b => b.length), meta.file.size, 'the pristine copy was not replaced by the worn audio')
})

t.test('a track renamed by case alone keeps its plays, metadata and pristine copy', async t => {
  const served = await buildTestApp(t, { tracks: { 'Song.wav': { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 10 } })
  for (let i = 0; i < 13; i++) await degrade(served.app, 'Song.wav')
  const wav = { ...served.tracks['Song.wav']!, path: join(served.audioDir, 'song.wav') }
  await rename(join(served.audioDir, 'Song.wav'), wav.path)
  const stats = (await served.app.inject('/stats/song.wav')).json()
  t.equal(stats.segment_play_counts[0], 13)
  t.equal(stats.title, 'song')
  t.equal((await degrade(served.app, 'song.wav')).json().play_count, 14)
  const meta = await readMetadata(served.metadataDir, 'song.wav')
  t.same(await readSegment(wav, 0), expectedSegment(wav, meta, 0, 14, 10), 'rendered from the original pristine audio')
  t.same((await readdir(served.metadataDir)).filter(n => n.endsWith('.json')), ['song.json'], 'one metadata file, under the new name')
})

t.test('a file copied over a track in place (same inode, same size) is a new track; plays never mix the two', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000, channels: 2 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 50 } })
  for (let i = 0; i < 5; i++) await degrade(served.app, 'a.wav', i % 2)
  // cp writes into the same inode: 32-bit mono has the same size as 16-bit stereo.
  const path = join(served.audioDir, 'a.wav')
  const scratch = await mkdtemp(join(tmpdir(), 'ephemeral-cp-'))
  t.teardown(async () => await rm(scratch, { recursive: true, force: true }))
  const source = await writeTestWav(join(scratch, 'b.wav'), { frames: 8000, channels: 1, bitsPerSample: 32 })
  await writeFile(path, await readFile(source.path))
  const res = await degrade(served.app, 'a.wav', 1)
  t.equal(res.json().play_count, 1, 'a new track: counts start over')
  const meta = await readMetadata(served.metadataDir, 'a.wav')
  const replaced = { ...source, path }
  t.same(await readSegment(replaced, 1), expectedSegment(replaced, meta, 1, 1, 50), 'the play rendered the new audio')
  t.same(await readSegment(replaced, 0), await readSegment(source, 0), 'segment 0 is the new file\'s, untouched')
})

t.test('a file removed and written again while prepared but not yet opened is a new track', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const second = await restart(t, served)
  const path = join(second.audioDir, 'a.wav')
  await rm(path)
  const fresh = await writeTestWav(path, { frames: 8000, channels: 1, bitsPerSample: 32 })
  t.equal((await degrade(second.app, 'a.wav')).json().play_count, 1)
  const meta = await readMetadata(second.metadataDir, 'a.wav')
  t.same(meta.layout.format.bitsPerSample, 32)
  t.same(await readSegment(fresh, 0), expectedSegment(fresh, meta, 0, 1, 1))
})

t.test('resets racing a replacement never write the old audio into the new file', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 4 } }, env: { DEGRADE_RATE_LIMIT: 0, ADMIN_TOKEN: 'x' } })
  const url = await listen(served.app)
  for (let trial = 0; trial < 15; trial++) {
    const temp = join(served.audioDir, `in-${trial}.tmp`)
    await writeTestWav(temp, { frames: 8000 * 4, channels: 1 + (trial % 2), bitsPerSample: 16 * (2 - (trial % 2)) })
    const bytes = await readFile(temp)
    await degrade(served.app, 'a.wav')
    const reset = fetch(`${url}/reset/a.wav`, { method: 'POST', headers: { authorization: 'Bearer x' } })
    await new Promise(resolve => setTimeout(resolve, trial % 4))
    await rename(temp, join(served.audioDir, 'a.wav'))
    const status = (await reset).status
    t.ok([200, 409].includes(status), `trial ${trial}: reset answered ${status}`)
    if (!(await readFile(join(served.audioDir, 'a.wav'))).equals(bytes)) t.fail(`trial ${trial}: the new file was written by the old track's reset`)
  }
})

t.test('a file replaced in place while the service was down is a new track, even when the journal names every segment', async t => {
  const root = await mkdtemp(join(tmpdir(), 'ephemeral-suspect-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const audioDir = join(root, 'audio')
  const metadataDir = join(root, 'metadata')
  await mkdir(audioDir, { recursive: true })
  await writeTestWav(join(audioDir, 'a.wav'), { frames: 8000, channels: 2 })
  const service = await startService({ AUDIO_DIR: audioDir, METADATA_DIR: metadataDir, DEGRADE_RATE_LIMIT: '0', CHECKPOINT_INTERVAL: '3600' })
  for (const segment of [0, 1]) {
    const res = await fetch(`${service.url}/degrade/a.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })
    t.equal(res.status, 200)
  }
  service.child.kill('SIGKILL')
  await service.exited
  const other = await writeTestWav(join(root, 'b.wav'), { frames: 8000, channels: 1, bitsPerSample: 32 })
  await writeFile(join(audioDir, 'a.wav'), await readFile(other.path))
  const { app } = await buildTestApp(t, { dirs: { audioDir, metadataDir } })
  t.same((await app.inject('/stats/a.wav')).json().segment_play_counts, [0, 0], 'not the old track\'s counts')
  t.same(await readFile(join(audioDir, 'a.wav')), await readFile(other.path), 'the new file is left as it is')
})

t.test('a hard link to a file outside AUDIO_DIR is refused: plays never change it', async t => {
  const served = await buildTestApp(t, { env: { DEGRADE_RATE_LIMIT: 0 } })
  const outside = join(served.audioDir, '..', 'outside.wav')
  await writeTestWav(outside, { frames: 8000 })
  const before = await readFile(outside)
  await link(outside, join(served.audioDir, 'inside.wav'))
  const res = await degrade(served.app, 'inside.wav')
  t.equal(res.statusCode, 404)
  t.match(res.json().message, /other hard link/)
  t.same(await readFile(outside), before)
})

t.test('a reset whose rendering fails is rolled back: plays after it are kept and heard after a restart', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 2 } }, env: { DEGRADE_RATE_LIMIT: 0, ADMIN_TOKEN: 'x', DEGRADATION_RATE: 10 } })
  for (let i = 0; i < 4; i++) await degrade(served.app, 'a.wav', 1)
  const writeSpan = served.app.wav.writeSpan
  let writes = 0
  served.app.wav.writeSpan = async (...args) => {
    if (++writes > 1) throw Object.assign(new Error('I/O error'), { code: 'EIO' })
    return await writeSpan(...args)
  }
  const reset = await served.app.inject({ method: 'POST', url: '/reset/a.wav', headers: { authorization: 'Bearer x' } })
  t.equal(reset.statusCode, 500)
  served.app.wav.writeSpan = writeSpan
  t.equal((await served.app.inject('/stats/a.wav')).json().segment_play_counts[1], 4, 'the reset did not happen')
  for (let i = 0; i < 10; i++) t.equal((await degrade(served.app, 'a.wav', 3)).statusCode, 200)
  const second = await restart(t, served, { DEGRADATION_RATE: 10 })
  t.same((await second.app.inject('/stats/a.wav')).json().segment_play_counts, [0, 4, 0, 10])
  const meta = await readMetadata(second.metadataDir, 'a.wav')
  const wav = served.tracks['a.wav']!
  for (const [segment, plays] of [[0, 0], [1, 4], [3, 10]] as const) {
    t.same(await readSegment(wav, segment), expectedSegment(wav, meta, segment, plays, 10), `segment ${segment} is heard at ${plays} plays`)
  }
})

t.test('names too long for the service\'s temporary files are refused with a reason, never a 500', async t => {
  const long = `${'x'.repeat(206)}.wav`
  const served = await buildTestApp(t, { tracks: { [long]: {}, 'ok.wav': {} } })
  for (const url of [`/stream/${long}`, `/stats/${long}`]) t.equal((await served.app.inject(url)).statusCode, 400, url)
  t.same((await served.app.inject('/tracks')).json().map((x: { filename: string }) => x.filename), ['ok.wav'])
  t.match((await served.app.inject('/')).json().tracks_excluded, [{ filename: long, reason: /longer than 200 bytes/ }])
})

t.test('a track removed while a slow client streams it leaves no open file behind once the client goes', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 120 } } })
  const { port } = new URL(await listen(served.app))
  const socket = connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  socket.on('error', () => {})
  socket.write('GET /stream/a.wav HTTP/1.1\r\nHost: x\r\n\r\n')
  socket.pause()
  await new Promise(resolve => setTimeout(resolve, 200))
  await rm(join(served.audioDir, 'a.wav'))
  t.equal((await served.app.inject('/stats/a.wav')).statusCode, 404)
  socket.destroy()
  // Polled: the server closes the handle once it sees the socket gone, later on a loaded machine.
  const deletedHandles = async () => {
    const fds = await readdir('/proc/self/fd')
    return (await Promise.all(fds.map(async fd => await readlink(`/proc/self/fd/${fd}`).catch(() => '')))).filter(target => target.includes('a.wav (deleted)'))
  }
  let deleted = await deletedHandles()
  for (let waited = 0; deleted.length > 0 && waited < 10_000; waited += 50) {
    await new Promise(resolve => setTimeout(resolve, 50))
    deleted = await deletedHandles()
  }
  t.same(deleted, [], 'no handle on the deleted file')
})

// Nothing can lock a file against a copy made in place, so a copy that lands
// between one play's write and its checks is seen only after that write: that
// one segment may hold the old track's audio, and no later play touches the file.
t.test('a copy made over a track in place while plays run is a new track; at most the one play racing it writes into it', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 4, channels: 2 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 20 } })
  const url = await listen(served.app)
  const before = await readMetadata(served.metadataDir, 'a.wav')
  const scratch = await mkdtemp(join(tmpdir(), 'ephemeral-cp-'))
  t.teardown(async () => await rm(scratch, { recursive: true, force: true }))
  const source = await writeTestWav(join(scratch, 'b.wav'), { frames: 8000 * 4, channels: 1, bitsPerSample: 32 })
  let stop = false
  const stopped = () => stop
  const player = async (w: number) => {
    for (let i = 0; !stopped(); i++) {
      const res = await fetch(`${url}/degrade/a.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: (w + i) % 8 }) })
      if (res.status !== 200 && res.status !== 404) t.fail(`a play answered ${res.status}`)
      await res.arrayBuffer()
    }
  }
  const players = [0, 1, 2, 3, 4, 5, 6, 7].map(player)
  await new Promise(resolve => setTimeout(resolve, 200))
  await writeFile(join(served.audioDir, 'a.wav'), await readFile(source.path))
  await new Promise(resolve => setTimeout(resolve, 300))
  stop = true
  await Promise.all(players)
  await served.app.inject('/tracks')
  await served.app.degrader.checkpoint()
  const after = await readMetadata(served.metadataDir, 'a.wav')
  t.not(after.track_id, before.track_id, 'the copy became a new track')
  const replaced = { ...source, path: join(served.audioDir, 'a.wav') }
  const wrong: number[] = []
  for (let s = 0; s < 8; s++) {
    if (!(await readSegment(replaced, s)).equals(expectedSegment(replaced, after, s, after.segment_play_counts[s]!, 20))) wrong.push(s)
  }
  t.ok(wrong.length <= 1, `segments not the new file rendered at their counts: ${wrong.join(', ') || 'none'}`)
})

t.test('a track renamed by case while the service was down after kill -9 keeps every acknowledged play', async t => {
  const root = await mkdtemp(join(tmpdir(), 'ephemeral-case-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const audioDir = join(root, 'audio')
  const metadataDir = join(root, 'metadata')
  await mkdir(audioDir, { recursive: true })
  await writeTestWav(join(audioDir, 'Song.wav'), { frames: 8000 * 2 })
  const service = await startService({ AUDIO_DIR: audioDir, METADATA_DIR: metadataDir, DEGRADE_RATE_LIMIT: '0', CHECKPOINT_INTERVAL: '3600' })
  for (let i = 0; i < 13; i++) {
    const res = await fetch(`${service.url}/degrade/Song.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: i % 4 }) })
    t.equal(res.status, 200)
  }
  service.child.kill('SIGKILL')
  await service.exited
  await rename(join(audioDir, 'Song.wav'), join(audioDir, 'song.wav'))
  const { app } = await buildTestApp(t, { dirs: { audioDir, metadataDir } })
  t.same((await app.inject('/stats/song.wav')).json().segment_play_counts, [4, 3, 3, 3])
  t.same((await readdir(metadataDir)).filter(n => n.endsWith('.json')), ['song.json'])
})

t.test('a hard link made to a track while it is served makes it stop being served; plays never change the other name', async t => {
  const served = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { DEGRADE_RATE_LIMIT: 0 } })
  t.equal((await degrade(served.app, 'a.wav')).statusCode, 200)
  const keep = join(served.audioDir, '..', 'keep.wav')
  await link(join(served.audioDir, 'a.wav'), keep)
  const before = await readFile(keep)
  const res = await degrade(served.app, 'a.wav')
  t.equal(res.statusCode, 404)
  t.match(res.json().message, /other hard link/)
  t.same(await readFile(keep), before)
})

t.test('pristine copies left half made by a stop are removed at the next start', async t => {
  const first = await buildTestApp(t, { tracks: { 'a.wav': {} } })
  await first.app.close()
  const leftover = join(first.metadataDir, 'originals', 'a.wav.0b4e4f7e-3d55-4c43-9d8f-4a36b0a0c1de.copy.tmp')
  await writeFile(leftover, Buffer.alloc(1000))
  await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir } })
  t.same(await readdir(join(first.metadataDir, 'originals')), ['a.wav'])
})
