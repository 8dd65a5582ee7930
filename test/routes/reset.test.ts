import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildTestApp, listen } from '../helper.js'

const NAME = 'worn.wav'
const TOKEN = 'correct horse battery staple'

t.test('POST /reset restores the pristine audio, the counts and a new ETag', async t => {
  const { app, tracks } = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 * 2 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 25, ADMIN_TOKEN: TOKEN } })
  const url = await listen(app)
  const original = await readFile(tracks[NAME]!.path)
  for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: i } })
  // Listened to enough to be served from memory: the reset must not leave the worn bytes there.
  for (let i = 0; i < 3; i++) await (await fetch(`${url}/stream/${NAME}`)).arrayBuffer()
  t.ok(app.trackCache.cached((await app.tracks.get(NAME))), 'the worn track is in memory')
  const worn = await fetch(`${url}/stream/${NAME}`)
  const wornTag = worn.headers.get('etag')!
  t.notSame(Buffer.from(await worn.arrayBuffer()), original, 'plays damaged the audio')

  const res = await app.inject({ method: 'POST', url: `/reset/${NAME}`, headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { success: true, filename: NAME, total_plays: 0, overall_degradation: 0 })
  t.same(await readFile(tracks[NAME]!.path), original, 'the file is byte-identical to the original')
  const stats = (await app.inject(`/stats/${NAME}`)).json()
  t.same(stats.segment_play_counts, [0, 0, 0, 0])
  const fresh = await fetch(`${url}/stream/${NAME}`, { headers: { 'if-none-match': wornTag } })
  t.equal(fresh.status, 200, 'a cached copy of the worn audio is no longer valid')
  t.same(Buffer.from(await fresh.arrayBuffer()), original, 'streams serve the restored audio')

  const play = (await app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })).json()
  t.equal(play.play_count, 1, 'plays start over')
})

t.test('the reset survives a restart, and plays after it are not undone by the old journal', async t => {
  const first = await buildTestApp(t, { tracks: { [NAME]: {} }, env: { DEGRADE_RATE_LIMIT: 0, ADMIN_TOKEN: TOKEN } })
  for (let i = 0; i < 5; i++) await first.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 1 } })
  await first.app.inject({ method: 'POST', url: `/reset/${NAME}`, headers: { authorization: `Bearer ${TOKEN}` } })
  await first.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 1 } })
  await first.app.close()
  const second = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir } })
  t.same((await second.app.inject(`/stats/${NAME}`)).json().segment_play_counts, [0, 1])
})

t.test('resets need the admin token, and are off without one', async t => {
  const off = await buildTestApp(t, { tracks: { [NAME]: {} } })
  const disabled = await off.app.inject({ method: 'POST', url: `/reset/${NAME}`, headers: { authorization: 'Bearer anything' } })
  t.equal(disabled.statusCode, 403)
  t.equal(disabled.json().code, 'EA_ADMIN_DISABLED')
  t.equal(disabled.json().error, 'Forbidden')

  const on = await buildTestApp(t, { tracks: { [NAME]: {} }, env: { DEGRADE_RATE_LIMIT: 0, ADMIN_TOKEN: TOKEN } })
  await on.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })
  for (const authorization of [undefined, 'Bearer wrong', TOKEN, `Basic ${TOKEN}`]) {
    const res = await on.app.inject({ method: 'POST', url: `/reset/${NAME}`, headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, String(authorization))
    t.equal(res.json().error, 'Unauthorized')
  }
  t.equal((await on.app.inject(`/stats/${NAME}`)).json().total_plays, 1, 'refused resets changed nothing')
  t.equal((await on.app.inject({ method: 'POST', url: '/reset/missing.wav', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 404)
})

t.test('a reset cut short by a crash is finished at the next start', async t => {
  const first = await buildTestApp(t, { tracks: { [NAME]: {} }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 50 } })
  const original = await readFile(first.tracks[NAME]!.path)
  await first.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })
  await first.app.close()
  // What a crash right after the reset recorded its intent leaves: counts at baseline, audio still worn.
  const metadataFile = join(first.metadataDir, 'worn.json')
  const meta = JSON.parse(await readFile(metadataFile, 'utf8'))
  await writeFile(metadataFile, JSON.stringify({ ...meta, segment_play_counts: [0, 0], reset_pending: true }))
  t.notSame(await readFile(first.tracks[NAME]!.path), original)
  const second = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir } })
  t.same(await readFile(first.tracks[NAME]!.path), original, 'the pristine audio is back')
  t.same((await second.app.inject(`/stats/${NAME}`)).json().segment_play_counts, [0, 0])
  await second.app.close()
  t.notOk(JSON.parse(await readFile(metadataFile, 'utf8')).reset_pending, 'the intent is cleared')
})

t.test('the Bearer scheme is case-insensitive, and a 401 says how to authenticate', async t => {
  const { app } = await buildTestApp(t, { tracks: { [NAME]: {} }, env: { ADMIN_TOKEN: TOKEN } })
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const res = await app.inject({ method: 'POST', url: `/reset/${NAME}`, headers: { authorization: `${scheme} ${TOKEN}` } })
    t.equal(res.statusCode, 200, scheme)
  }
  const missing = await app.inject({ method: 'POST', url: `/reset/${NAME}` })
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="ephemeral-audio"')
  const wrong = await app.inject({ method: 'POST', url: `/reset/${NAME}`, headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.headers['www-authenticate'], /error="invalid_token"/)
})
