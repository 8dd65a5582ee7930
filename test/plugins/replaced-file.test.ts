import t from 'tap'
import { open, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildTestApp, type TapTest } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { readMetadata } from '../segment-io.js'
import { segmentSpan } from '../../lib/wav-format.js'

const NAME = 'x.wav'

/** A service that played segment 0 three times, then stopped cleanly. */
async function playedThenStopped (t: TapTest) {
  const first = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 * 2 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (let i = 0; i < 3; i++) await first.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })
  await first.app.close()
  const before = await readMetadata(first.metadataDir, NAME)
  return { ...first, before, dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir } }
}

t.test('an untouched track keeps its identity and counts across restarts', async t => {
  const { dirs, before } = await playedThenStopped(t)
  const { app, metadataDir } = await buildTestApp(t, { dirs })
  t.same((await app.inject(`/stats/${NAME}`)).json().segment_play_counts, [3, 0, 0, 0])
  t.equal((await readMetadata(metadataDir, NAME)).track_id, before.track_id)
})

t.test('a file replaced by one of another size while the service was down becomes a new track', async t => {
  const { dirs, before } = await playedThenStopped(t)
  const replacement = await writeTestWav(join(dirs.audioDir, NAME), { frames: 8000 * 3, channels: 1 })
  const { app, metadataDir } = await buildTestApp(t, { dirs })
  const stats = (await app.inject(`/stats/${NAME}`)).json()
  t.same(stats.segment_play_counts, [0, 0, 0, 0, 0, 0], 'fresh counts')
  t.equal(stats.channels, 1)
  const after = await readMetadata(metadataDir, NAME)
  t.not(after.track_id, before.track_id, 'a new identity')
  t.same(await readFile(join(metadataDir, 'originals', NAME)), await readFile(replacement.path), 'a new pristine copy')
})

t.test('a same-size hand edit of a segment nobody played is detected by comparing with the rendering', async t => {
  const { dirs, before, tracks } = await playedThenStopped(t)
  const wav = tracks[NAME]!
  const span = segmentSpan({ format: wav.format, dataOffset: wav.dataOffset, frames: wav.frames, dataSize: 0, fileSize: wav.fileSize }, 0.5, 3)
  const file = await open(wav.path, 'r+')
  await file.write(Buffer.alloc(64, 0x11), 0, 64, span.byteOffset)
  await file.close()
  const later = new Date(Date.now() + 5000)
  await utimes(wav.path, later, later)
  const { app, metadataDir } = await buildTestApp(t, { dirs })
  t.same((await app.inject(`/stats/${NAME}`)).json().segment_play_counts, [0, 0, 0, 0])
  t.not((await readMetadata(metadataDir, NAME)).track_id, before.track_id)
})

t.test('a touched but unchanged file keeps its counts', async t => {
  const { dirs, before, tracks } = await playedThenStopped(t)
  const later = new Date(Date.now() + 5000)
  await utimes(tracks[NAME]!.path, later, later)
  const { app, metadataDir } = await buildTestApp(t, { dirs })
  t.same((await app.inject(`/stats/${NAME}`)).json().segment_play_counts, [3, 0, 0, 0])
  const after = await readMetadata(metadataDir, NAME)
  t.equal(after.track_id, before.track_id)
  t.equal(after.file.mtime_ms, (await stat(tracks[NAME]!.path)).mtimeMs, 'the new mtime is recorded')
})

t.test('a removed file disappears from /tracks; its metadata is kept', async t => {
  const { app, audioDir, metadataDir } = await buildTestApp(t, { tracks: { [NAME]: {}, 'keep.wav': {} } })
  await rm(join(audioDir, NAME))
  const list = (await app.inject('/tracks')).json() as Array<{ filename: string }>
  t.same(list.map(x => x.filename), ['keep.wav'])
  t.equal((await app.inject(`/stream/${NAME}`)).statusCode, 404)
  t.ok(await readMetadata(metadataDir, NAME))
})

for (const how of ['corrupted', 'deleted'] as const) {
  t.test(`metadata ${how} while the service was down: play counts are recovered from the audio, never reset to zero`, async t => {
    const first = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 * 2 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 2.5 } })
    for (const [segment, plays] of [[0, 3], [2, 7], [3, 40]] as const) {
      for (let i = 0; i < plays; i++) await first.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: segment } })
    }
    await first.app.close()
    const metadataFile = join(first.metadataDir, 'x.json')
    if (how === 'corrupted') await writeFile(metadataFile, '{"segment_play_counts": [3, 0, 7')
    else await rm(metadataFile)
    const dirs = { audioDir: first.audioDir, metadataDir: first.metadataDir }
    const second = await buildTestApp(t, { dirs, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 2.5 } })
    t.same((await second.app.inject(`/stats/${NAME}`)).json().segment_play_counts, [3, 0, 7, 40])
    const before = await readFile(first.tracks[NAME]!.path)
    const play = (await second.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 3 } })).json()
    t.equal(play.play_count, 41, 'plays continue from the recovered count')
    t.same(await readFile(first.tracks[NAME]!.path), before, 'a fully silent segment stays silent: no damage is undone')
  })
}

t.test('a file removed while the service runs is 404 everywhere at once, never a 500', async t => {
  const { app, tracks } = await buildTestApp(t, { tracks: { [NAME]: {} }, env: { DEGRADE_RATE_LIMIT: 0 } })
  t.equal((await app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })).statusCode, 200)
  await rm(tracks[NAME]!.path)
  for (const request of [`/stream/${NAME}`, `/stats/${NAME}`, { method: 'POST' as const, url: `/degrade/${NAME}`, payload: { segment_index: 0 } }]) {
    const res = await app.inject(request)
    t.equal(res.statusCode, 404, JSON.stringify(request))
    t.equal(res.json().code, 'EA_TRACK_NOT_FOUND')
  }
})

t.test('a file replaced by another of a different size while the service runs is served as a new track', async t => {
  const { app, audioDir } = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  await app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })
  const replacement = await writeTestWav(join(audioDir, NAME), { frames: 12000 })
  const res = await app.inject(`/stream/${NAME}`)
  t.equal(res.statusCode, 200)
  t.same(res.rawPayload, await readFile(replacement.path))
  t.same((await app.inject(`/stats/${NAME}`)).json().segment_play_counts, [0, 0, 0])
})
