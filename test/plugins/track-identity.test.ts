import t from 'tap'
import { link, readFile, rename, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { buildTestApp, listen, type TapTest } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { expectedSegment, readMetadata, readSegment } from '../segment-io.js'

// Regressions of issue 10: a track's identity is decided in one place, once,
// and no play is ever written to a file that is not its track's.

const play = (url: string, name: string, segment = 0) =>
  fetch(`${url}/degrade/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })

async function restart (t: TapTest, first: { app: { close: () => Promise<unknown> }, audioDir: string, metadataDir: string }, env: Record<string, string | number> = {}) {
  await first.app.close()
  return await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir }, env: { DEGRADE_RATE_LIMIT: 0, ...env } })
}

t.test('regression: 50 concurrent first plays of a track that just appeared all count, none answers 500', async t => {
  const served = await buildTestApp(t, { env: { DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(served.app)
  const wav = await writeTestWav(join(served.audioDir, 'new.wav'), { frames: 8000 })
  const replies = await Promise.all(Array.from({ length: 50 }, async () => await play(url, 'new.wav')))
  t.same(replies.map(r => r.status), new Array(50).fill(200))
  const counts = (await Promise.all(replies.map(async r => ((await r.json()) as { play_count: number }).play_count))).sort((a, b) => a - b)
  t.same(counts, Array.from({ length: 50 }, (_, i) => i + 1), 'each play got its own count')
  const second = await restart(t, served)
  const meta = await readMetadata(second.metadataDir, 'new.wav')
  t.equal(meta.segment_play_counts[0], 50, 'every acknowledged play survives a restart')
  t.same(await readSegment(wav, 0), expectedSegment(wav, meta, 0, 50, 1), 'the audio is its rendering')
})

t.test('regression: 3 concurrent plays on each of 100 new tracks give counts 1, 2, 3 on each', async t => {
  const served = await buildTestApp(t, { env: { DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(served.app)
  const names = Array.from({ length: 100 }, (_, i) => `t${i}.wav`)
  for (const name of names) await writeTestWav(join(served.audioDir, name), { frames: 4000, channels: 1 })
  const results = await Promise.all(names.flatMap(name => [0, 1, 2].map(async () => {
    const res = await play(url, name)
    return { name, status: res.status, count: ((await res.json()) as { play_count: number }).play_count }
  })))
  t.same(results.filter(r => r.status !== 200), [], 'all acknowledged')
  const byTrack = new Map<string, number[]>()
  for (const r of results) byTrack.set(r.name, [...(byTrack.get(r.name) ?? []), r.count].sort())
  t.same([...byTrack.values()].filter(c => c.join() !== '1,2,3'), [], 'no two plays shared a count')
  const second = await restart(t, served)
  for (const name of names) {
    if ((await readMetadata(second.metadataDir, name)).segment_play_counts[0] !== 3) t.fail(`${name} lost a play`)
  }
})

t.test('regression: song.wav and song.WAV are one name; the second file is refused, not aliased', async t => {
  const served = await buildTestApp(t, { tracks: { 'song.wav': {}, 'song.WAV': {} }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const list = (await served.app.inject('/tracks')).json() as Array<{ filename: string }>
  t.same(list.map(x => x.filename), ['song.WAV'], 'listed once (the first in byte order)')
  const refused = await served.app.inject('/stats/song.wav')
  t.equal(refused.statusCode, 404)
  t.match(refused.json().message, /differs only in case from song\.WAV/)
  for (let i = 0; i < 30; i++) t.equal((await served.app.inject({ method: 'POST', url: '/degrade/song.WAV', payload: { segment_index: 0 } })).statusCode, 200)
  t.equal((await served.app.inject({ method: 'POST', url: '/degrade/song.wav', payload: { segment_index: 0 } })).statusCode, 404)
  const second = await restart(t, served)
  t.equal((await second.app.inject('/stats/song.WAV')).json().segment_play_counts[0], 30, 'its plays survive a restart')
})

t.test('regression: a file replaced by another of a different size keeps the new track\'s plays across a checkpoint and a restart', async t => {
  const served = await buildTestApp(t, { tracks: { 'x.wav': { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(served.app)
  t.equal((await play(url, 'x.wav')).status, 200)
  const temp = join(served.audioDir, 'incoming.tmp')
  const replacement = await writeTestWav(temp, { frames: 8000 * 12 })
  await rename(temp, join(served.audioDir, 'x.wav'))
  replacement.path = join(served.audioDir, 'x.wav')
  t.same(Buffer.from(await (await fetch(`${url}/stream/x.wav`)).arrayBuffer()), await readFile(replacement.path))
  for (let i = 0; i < 30; i++) t.equal((await play(url, 'x.wav', 5)).status, 200)
  await served.app.degrader.checkpoint()
  const second = await restart(t, served)
  const stats = (await second.app.inject('/stats/x.wav')).json()
  t.equal(stats.total_segments, 24)
  t.equal(stats.segment_play_counts[5], 30, 'the 30 acknowledged plays of the new track are kept')
  t.equal(stats.segment_play_counts[0], 0, 'the old track\'s play is not carried over')
  const meta = await readMetadata(second.metadataDir, 'x.wav')
  t.same(await readSegment(replacement, 5), expectedSegment(replacement, meta, 5, 30, 1))
})

t.test('regression: a file replaced by another of the same size is streamed, played and reset as the new file', async t => {
  const served = await buildTestApp(t, { tracks: { 'x.wav': { frames: 8000, channels: 2 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 50, ADMIN_TOKEN: 'token' } })
  const url = await listen(served.app)
  for (let i = 0; i < 3; i++) await (await fetch(`${url}/stream/x.wav`)).arrayBuffer() // held in memory and by a read handle
  t.equal((await play(url, 'x.wav')).status, 200)
  // Same size, other content: 16-bit stereo and 32-bit mono have the same block size.
  const temp = join(served.audioDir, 'incoming.tmp')
  const replacement = await writeTestWav(temp, { frames: 8000, channels: 1, bitsPerSample: 32 })
  const pristineBytes = await readFile(temp)
  await rename(temp, join(served.audioDir, 'x.wav'))
  replacement.path = join(served.audioDir, 'x.wav')
  t.same(Buffer.from(await (await fetch(`${url}/stream/x.wav`)).arrayBuffer()), pristineBytes, '/stream serves the new audio')
  const res = await play(url, 'x.wav', 1)
  t.equal(res.status, 200)
  t.equal(((await res.json()) as { play_count: number }).play_count, 1, 'a new track: counts start over')
  const meta = await readMetadata(served.metadataDir, 'x.wav')
  t.same(await readSegment(replacement, 1), expectedSegment(replacement, meta, 1, 1, 50), 'the play changed the new file on disk')
  const reset = await fetch(`${url}/reset/x.wav`, { method: 'POST', headers: { authorization: 'Bearer token' } })
  t.equal(reset.status, 200)
  t.same(await readFile(replacement.path), pristineBytes, 'a reset restores the new file\'s audio, never the old one\'s')
})

t.test('regression: a symbolic link or a hard link to another track is not a track, and plays through it change nothing', async t => {
  const served = await buildTestApp(t, { tracks: { 'x.wav': { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 50 } })
  await symlink(join(served.audioDir, 'x.wav'), join(served.audioDir, 'link.wav'))
  await link(join(served.audioDir, 'x.wav'), join(served.audioDir, 'hard.wav'))
  const before = await readFile(join(served.audioDir, 'x.wav'))
  // A file with two names: a play through either would change what the other shows, so neither is served.
  const list = (await served.app.inject('/tracks')).json() as Array<{ filename: string }>
  t.same(list.map(x => x.filename), [])
  for (const name of ['link.wav', 'hard.wav', 'x.wav']) {
    for (let i = 0; i < 5; i++) {
      const res = await served.app.inject({ method: 'POST', url: `/degrade/${name}`, payload: { segment_index: 0 } })
      t.equal(res.statusCode, 404, name)
    }
    t.match((await served.app.inject(`/stats/${name}`)).json().message, name === 'link.wav' ? /symbolic link/ : /hard link/)
  }
  t.same(await readFile(join(served.audioDir, 'x.wav')), before, 'x.wav was not touched')
  const { rm } = await import('node:fs/promises')
  await rm(join(served.audioDir, 'hard.wav'))
  t.same((await served.app.inject('/stats/x.wav')).json().segment_play_counts, [0, 0], 'served again once it has one name')
})

t.test('a large library: start-up does not wait for every track, the rest is prepared in the background, and resumes after a restart', async t => {
  const first = await buildTestApp(t, { env: { DEGRADE_RATE_LIMIT: 0 } })
  const names = Array.from({ length: 1000 }, (_, i) => `n${String(i).padStart(4, '0')}.wav`)
  for (const name of names) await writeTestWav(join(first.audioDir, name), { frames: 8000 })
  await first.app.close()
  const second = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const info = (await second.app.inject('/')).json()
  t.ok(info.tracks_preparing > 0, `listening with ${info.tracks} ready and ${info.tracks_preparing} still being prepared`)
  t.equal(info.tracks + info.tracks_preparing, names.length)
  const last = names.at(-1)!
  t.equal((await second.app.inject({ method: 'POST', url: `/degrade/${last}`, payload: { segment_index: 0 } })).statusCode, 200, 'a track not prepared yet is prepared on demand')
  await second.app.close()
  const third = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir }, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (let i = 0; i < 200 && (await third.app.inject('/')).json().tracks_preparing > 0; i++) await new Promise(resolve => setTimeout(resolve, 100))
  const list = (await third.app.inject('/tracks')).json() as Array<{ filename: string, total_plays: number }>
  t.equal(list.length, names.length, 'every track is prepared in the end')
  t.equal(list.find(x => x.filename === last)?.total_plays, 1)
})
