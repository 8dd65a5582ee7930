/**
 * A client generated from openapi.json (openapi-typescript types, run by
 * `npm run openapi:types` before the type check) drives a real listening
 * service through openapi-fetch. A schema change that breaks clients breaks
 * `tsc`; a response the document does not declare (status, media type, or a
 * body field) fails here.
 */
import t from 'tap'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import createClient, { type Middleware } from 'openapi-fetch'
import { writeBrokenWav } from '../fixtures/wav-fixtures.js'
import { buildTestApp, listen } from '../helper.js'
import type { components, paths } from './generated/openapi.js'
import { ResponseChecker, mediaTypeOf, operationsOf, type OpenApiDocument } from './contract.js'

type Schemas = components['schemas']

// 2 s at 8 kHz: four segments of 0.5 s.
const ADMIN_TOKEN = 'client-test-token'
const main = await buildTestApp(t, { tracks: { 'a.wav': { frames: 16000 }, 'b.wav': {} }, env: { DEGRADE_RATE_LIMIT: 0, ADMIN_TOKEN } })
await writeBrokenWav(join(main.audioDir, 'broken.wav'), 'mulaw')
const METRICS_TOKEN = 'client-test-metrics-token'
const limited = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { DEGRADE_RATE_LIMIT: 1, METRICS_TOKEN } })
const size = main.tracks['a.wav']?.fileSize ?? 0

const doc = main.app.swagger() as unknown as OpenApiDocument
const checker = await ResponseChecker.of(doc)

/** Every response goes through the document before the test sees it. */
const againstTheDocument: Middleware = {
  async onResponse ({ request, response, schemaPath }) {
    const media = mediaTypeOf(response.headers.get('content-type'))
    const readable = request.method !== 'HEAD' && (media === 'application/json' || response.status === 304 || (media?.startsWith('text/') === true && media !== 'text/event-stream'))
    checker.check(request.method, schemaPath, response.status, response.headers.get('content-type'), readable ? await response.clone().text() : undefined)
  }
}

function clientOf (baseUrl: string) {
  const client = createClient<paths>({ baseUrl })
  client.use(againstTheDocument)
  return client
}

const api = clientOf(await listen(main.app))
const limitedApi = clientOf(await listen(limited.app))

function present<T> (value: T | undefined): T {
  if (value === undefined) throw new Error('expected a value')
  return value
}

const file = (filename: string) => ({ params: { path: { filename } } })

t.test('getServiceInfo', async t => {
  const { data, response } = await api.GET('/')
  t.equal(response.status, 200)
  const info: Schemas['ServiceInfo'] = present(data)
  t.match(info, { status: 'running', service: 'Ephemeral Audio Decay System', degradation_rate: 1, segment_duration: 0.5, tracks: 2, tracks_preparing: 0 })
  // broken.wav is excluded once the library has been scanned (GET /tracks).
  await api.GET('/tracks')
  const after = present((await api.GET('/')).data)
  t.same(after.tracks_excluded.map(x => x.filename), ['broken.wav'])
  t.match(after.tracks_excluded[0]?.reason, /not a playable WAV/)
})

t.test('listTracks', async t => {
  const { data, response } = await api.GET('/tracks')
  t.equal(response.status, 200)
  const tracks: Schemas['Track'][] = present(data)
  t.same(tracks.map(track => track.filename), ['a.wav', 'b.wav'], 'broken.wav is left out')
  t.match(tracks[0], { title: 'a', duration: 2, total_segments: 4, total_plays: 0, sample_rate: 8000, channels: 2, bits_per_sample: 16, sample_format: 'int' })
})

t.test('getTrackStats', async t => {
  const ok = await api.GET('/stats/{filename}', file('a.wav'))
  t.equal(ok.response.status, 200)
  const stats: Schemas['TrackStats'] = present(ok.data)
  t.same(stats.segment_play_counts, [0, 0, 0, 0])
  t.equal(stats.total_segments, 4)

  const cases = [['bad', 400, 'EA_BAD_FILENAME'], ['missing.wav', 404, 'EA_TRACK_NOT_FOUND'], ['broken.wav', 422, 'EA_UNPLAYABLE_WAV']] as const
  for (const [filename, status, code] of cases) {
    const { error, response } = await api.GET('/stats/{filename}', file(filename))
    t.equal(response.status, status, filename)
    const body: Schemas['Error'] = present(error)
    t.match(body, { statusCode: status, code }, filename)
  }
})

t.test('streamTrack and streamTrackHead', async t => {
  const whole = await api.GET('/stream/{filename}', { ...file('a.wav'), parseAs: 'arrayBuffer' })
  t.equal(whole.response.status, 200)
  const bytes = Buffer.from(present(whole.data))
  t.equal(bytes.length, size)
  t.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF')
  const etag = present(whole.response.headers.get('etag') ?? undefined)
  t.equal(whole.response.headers.get('accept-ranges'), 'bytes')

  const range = await api.GET('/stream/{filename}', { params: { path: { filename: 'a.wav' }, header: { Range: 'bytes=4-11' } }, parseAs: 'arrayBuffer' })
  t.equal(range.response.status, 206)
  t.equal(Buffer.from(present(range.data)).toString('latin1'), bytes.subarray(4, 12).toString('latin1'))
  t.equal(range.response.headers.get('content-range'), `bytes 4-11/${size}`)

  const multi = await api.GET('/stream/{filename}', { params: { path: { filename: 'a.wav' }, header: { Range: 'bytes=0-1,8-9' } }, parseAs: 'arrayBuffer' })
  t.equal(multi.response.status, 206)
  t.match(multi.response.headers.get('content-type'), /^multipart\/byteranges; boundary=/)

  const cached = await api.GET('/stream/{filename}', { params: { path: { filename: 'a.wav' }, header: { 'If-None-Match': etag } }, parseAs: 'arrayBuffer' })
  t.equal(cached.response.status, 304)

  const changed = await api.GET('/stream/{filename}', { params: { path: { filename: 'a.wav' }, header: { 'If-Match': '"another-version"' } } })
  t.equal(changed.response.status, 412)
  t.equal(present(changed.error).code, 'EA_PRECONDITION_FAILED')

  const outside = await api.GET('/stream/{filename}', { params: { path: { filename: 'a.wav' }, header: { Range: `bytes=${size}-` } } })
  t.equal(outside.response.status, 416)
  t.equal(present(outside.error).code, 'EA_RANGE_NOT_SATISFIABLE')
  t.equal(outside.response.headers.get('content-range'), `bytes */${size}`)

  for (const [filename, status] of [['bad', 400], ['missing.wav', 404], ['broken.wav', 422]] as const) {
    const { error, response } = await api.GET('/stream/{filename}', file(filename))
    t.equal(response.status, status, filename)
    t.equal(present(error).statusCode, status)
  }

  // HEAD: the same statuses and headers, never a body, never a listen.
  const head = await api.HEAD('/stream/{filename}', file('a.wav'))
  t.equal(head.response.status, 200)
  t.equal(head.response.headers.get('content-length'), String(size))
  t.equal(head.response.headers.get('etag'), etag)
  const headCases = [
    [{ path: { filename: 'a.wav' }, header: { Range: 'bytes=0-9' } }, 206],
    [{ path: { filename: 'a.wav' }, header: { 'If-None-Match': etag } }, 304],
    [{ path: { filename: 'bad' } }, 400],
    [{ path: { filename: 'missing.wav' } }, 404],
    [{ path: { filename: 'a.wav' }, header: { 'If-Unmodified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } }, 412],
    [{ path: { filename: 'a.wav' }, header: { Range: `bytes=${size}-` } }, 416],
    [{ path: { filename: 'broken.wav' } }, 422]
  ] as const
  for (const [params, status] of headCases) {
    const { response } = await api.HEAD('/stream/{filename}', { params })
    t.equal(response.status, status, JSON.stringify(params))
    t.equal(await response.text(), '', 'no body')
  }
  const stats = present((await api.GET('/stats/{filename}', file('a.wav'))).data)
  t.equal(stats.total_streams, 1, 'the whole-file GET counted as a listen; ranges past 0 and HEADs did not')
})

t.test('degradeSegment', async t => {
  const played = await api.POST('/degrade/{filename}', { ...file('a.wav'), body: { segment_index: 1 } })
  t.equal(played.response.status, 200)
  const result: Schemas['DegradeResult'] = present(played.data)
  t.same(result, { success: true, filename: 'a.wav', segment_index: 1, play_count: 1, segment_degradation: 1, overall_degradation: 0.25, total_plays: 1 })
  t.same(present((await api.GET('/stats/{filename}', file('a.wav'))).data).segment_play_counts, [0, 1, 0, 0], 'the play shows in the stats')

  const refused = [
    [{ ...file('a.wav'), body: { segment_index: 4 } }, 400, 'EA_SEGMENT_OUT_OF_RANGE'],
    [{ ...file('a.wav'), body: { segment_index: -1 } }, 400, 'FST_ERR_VALIDATION'],
    [{ ...file('missing.wav'), body: { segment_index: 0 } }, 404, 'EA_TRACK_NOT_FOUND'],
    [{ ...file('broken.wav'), body: { segment_index: 0 } }, 422, 'EA_UNPLAYABLE_WAV'],
    // DegradeRequest allows other fields, but not past BODY_LIMIT (1024 bytes).
    [{ ...file('a.wav'), body: { segment_index: 0, padding: 'x'.repeat(2000) } }, 413, 'FST_ERR_CTP_BODY_TOO_LARGE'],
    [{ ...file('a.wav'), body: { segment_index: 0 }, bodySerializer: () => 'segment_index=0', headers: { 'content-type': 'text/plain' } }, 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE']
  ] as const
  for (const [init, status, code] of refused) {
    const { error, response } = await api.POST('/degrade/{filename}', init)
    t.equal(response.status, status, code)
    t.match(present(error), { statusCode: status, code })
  }
  t.same(present((await api.GET('/stats/{filename}', file('a.wav'))).data).segment_play_counts, [0, 1, 0, 0], 'refused plays changed nothing')

  const first = await limitedApi.POST('/degrade/{filename}', { ...file('a.wav'), body: { segment_index: 0 } })
  t.equal(first.response.status, 200)
  t.equal(first.response.headers.get('x-ratelimit-limit'), '1')
  const second = await limitedApi.POST('/degrade/{filename}', { ...file('a.wav'), body: { segment_index: 0 } })
  t.equal(second.response.status, 429)
  t.equal(present(second.error).error, 'Too Many Requests')
  t.ok(Number(second.response.headers.get('retry-after')) >= 0, 'Retry-After')
})

t.test('resetTrack', async t => {
  const anonymous = await api.POST('/reset/{filename}', file('a.wav'))
  t.equal(anonymous.response.status, 401)
  t.equal(present(anonymous.error).code, 'EA_UNAUTHORIZED')
  const disabled = await limitedApi.POST('/reset/{filename}', { ...file('a.wav'), headers: { authorization: 'Bearer anything' } })
  t.equal(disabled.response.status, 403, 'no ADMIN_TOKEN configured')

  const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }
  for (const [filename, status] of [['bad', 400], ['missing.wav', 404], ['broken.wav', 422]] as const) {
    const { response } = await api.POST('/reset/{filename}', { ...file(filename), ...admin })
    t.equal(response.status, status, filename)
  }
  const reset = await api.POST('/reset/{filename}', { ...file('a.wav'), ...admin })
  t.equal(reset.response.status, 200)
  const result: Schemas['ResetResult'] = present(reset.data)
  t.same(result, { success: true, filename: 'a.wav', total_plays: 0, overall_degradation: 0 })
  t.same(present((await api.GET('/stats/{filename}', file('a.wav'))).data).segment_play_counts, [0, 0, 0, 0], 'the play recorded earlier is gone')
})

t.test('getTrackPeaks', async t => {
  const { data, response } = await api.GET('/peaks/{filename}', { params: { path: { filename: 'a.wav' }, query: { samples_per_pixel: 4000 } } })
  t.equal(response.status, 200)
  t.match(present(data), { version: 2, sample_rate: 8000, samples_per_pixel: 4000, length: 4 })
  const missing = await api.GET('/peaks/{filename}', file('missing.wav'))
  t.equal(missing.response.status, 404)
})

t.test('streamEvents', async t => {
  const { data, response } = await api.GET('/events', { parseAs: 'stream' })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/event-stream/)
  await present(data ?? undefined).cancel()
})

t.test('getPlayer and getPlayerAsset', async t => {
  const page = await api.GET('/player', { parseAs: 'text' })
  t.equal(page.response.status, 200)
  t.match(present(page.data), /<html/i)
  const script = await api.GET('/player/{asset}', { params: { path: { asset: 'player.js' } }, parseAs: 'text' })
  t.equal(script.response.status, 200)
  const missing = await api.GET('/player/{asset}', { params: { path: { asset: 'nothing.js' } } })
  t.equal(missing.response.status, 404)
})

t.test('uploadTrack, getTrack, updateTrack and deleteTrack', async t => {
  const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }
  const bytes = await readFile(join(main.audioDir, 'b.wav'))
  const upload = { ...file('d.wav'), body: bytes as unknown as string, bodySerializer: (body: unknown) => body as Buffer }
  const created = await api.PUT('/tracks/{filename}', { ...upload, ...admin })
  t.equal(created.response.status, 201)
  t.equal(created.response.headers.get('location'), '/tracks/d.wav')
  t.equal((await api.PUT('/tracks/{filename}', { ...upload, headers: { ...admin.headers, 'if-none-match': '*' } })).response.status, 412)
  t.equal((await api.PUT('/tracks/{filename}', { ...upload, ...admin })).response.status, 200)
  t.equal((await api.PUT('/tracks/{filename}', { ...upload, ...admin, body: 'not audio' })).response.status, 415)
  t.equal((await api.PUT('/tracks/{filename}', { ...upload, ...admin, body: bytes.subarray(0, 30) as unknown as string })).response.status, 422)
  t.match(present((await api.GET('/tracks/{filename}', file('d.wav'))).data), { filename: 'd.wav', title: 'd' })
  const renamed = await api.PATCH('/tracks/{filename}', { ...file('d.wav'), ...admin, body: { title: 'Dee' } })
  t.equal(renamed.response.status, 200)
  t.equal(present(renamed.data).title, 'Dee')
  t.equal((await api.PATCH('/tracks/{filename}', { ...file('d.wav'), body: { title: 'x' } })).response.status, 401)
  t.equal((await api.DELETE('/tracks/{filename}', { ...file('d.wav'), ...admin })).response.status, 204)
  t.equal((await api.DELETE('/tracks/{filename}', { ...file('d.wav'), ...admin })).response.status, 404)
})

t.test('listEngines and previewTrack', async t => {
  const engines = present((await api.GET('/engines')).data)
  t.same(engines.map(e => e.id), ['dropout', 'tape', 'wow', 'fidelity', 'noise', 'dissolve', 'worn'])
  const preview = await api.GET('/preview/{filename}', { params: { path: { filename: 'b.wav' }, query: { engine: 'tape', plays: 20, from: 0, to: 1 } }, parseAs: 'arrayBuffer' })
  t.equal(preview.response.status, 200)
  t.equal(Buffer.from(present(preview.data) as ArrayBuffer).subarray(0, 4).toString(), 'RIFF')
  const etag = preview.response.headers.get('etag') as string
  const cached = await api.GET('/preview/{filename}', { params: { path: { filename: 'b.wav' }, query: { engine: 'tape', plays: 20, from: 0, to: 1 } }, headers: { 'if-none-match': etag }, parseAs: 'arrayBuffer' })
  t.equal(cached.response.status, 304)
  const bad = await api.GET('/preview/{filename}', { params: { path: { filename: 'b.wav' }, query: { engine: 'vinyl' } } })
  t.equal(bad.response.status, 400)
  t.equal(present(bad.error).code, 'EA_BAD_ENGINE')
})

t.test('checkAdminToken', async t => {
  t.equal((await api.GET('/admin/token', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).response.status, 204)
  const wrong = await api.GET('/admin/token', { headers: { authorization: 'Bearer wrong' } })
  t.equal(wrong.response.status, 401)
  t.equal(present(wrong.error).code, 'EA_UNAUTHORIZED')
  t.equal((await limitedApi.GET('/admin/token', { headers: { authorization: 'Bearer anything' } })).response.status, 403, 'no ADMIN_TOKEN configured')
})

t.test('getMetrics', async t => {
  const open = await api.GET('/metrics', { parseAs: 'text' })
  t.equal(open.response.status, 200, 'no METRICS_TOKEN: open')
  t.match(present(open.data), /^# TYPE ephemeral_audio_plays_total counter$/m)
  const missing = await limitedApi.GET('/metrics', { parseAs: 'text' })
  t.equal(missing.response.status, 401)
  t.equal(present(missing.error).code, 'EA_UNAUTHORIZED')
  const ok = await limitedApi.GET('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, parseAs: 'text' })
  t.equal(ok.response.status, 200)
  t.match(present(ok.data), /^ephemeral_audio_tracks 1$/m)
})

t.test('downloadBackup and restoreBackup', async t => {
  const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }
  const backup = await api.GET('/admin/backup', { ...admin, parseAs: 'arrayBuffer' })
  t.equal(backup.response.status, 200)
  const archive = Buffer.from(present(backup.data) as ArrayBuffer)
  const restore = await api.POST('/admin/restore', { ...admin, params: { query: { mode: 'merge' } }, body: archive as unknown as string, bodySerializer: (body: unknown) => body as Buffer })
  t.equal(restore.response.status, 200)
  t.same(present(restore.data).restored, [])
  const bad = await api.POST('/admin/restore', { ...admin, body: 'not an archive', bodySerializer: (body: unknown) => body as string })
  t.equal(bad.response.status, 422)
})

t.test('disk trouble and files replaced under a request answer as documented', async t => {
  const { app, audioDir } = main
  const wav = app.wav
  const diskFull = () => Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
  // A new track that cannot be prepared: its pristine copy or metadata cannot be written.
  const inspect = wav.inspect
  wav.inspect = async () => { throw diskFull() }
  await writeFile(join(audioDir, 'c.wav'), await readFile(join(audioDir, 'b.wav')))
  for (const status of [(await api.GET('/stats/{filename}', file('c.wav'))).response.status,
    (await api.GET('/stream/{filename}', file('c.wav'))).response.status,
    (await api.HEAD('/stream/{filename}', file('c.wav'))).response.status]) t.equal(status, 503)
  wav.inspect = inspect

  const writeSpan = wav.writeSpan
  wav.writeSpan = async () => { throw diskFull() }
  t.equal((await api.POST('/degrade/{filename}', { ...file('b.wav'), body: { segment_index: 0 } })).response.status, 503)
  t.equal((await api.POST('/reset/{filename}', { ...file('b.wav'), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).response.status, 503)
  wav.writeSpan = writeSpan

  // The file is replaced just as the reset opens it: the reset must not write the old audio into it.
  const openForUpdate = wav.openForUpdate
  wav.openForUpdate = async (path: string) => {
    wav.openForUpdate = openForUpdate
    await writeFile(`${path}.new`, await readFile(path))
    await rename(`${path}.new`, path)
    return await openForUpdate(path)
  }
  t.equal((await api.POST('/reset/{filename}', { ...file('b.wav'), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).response.status, 409)
  wav.openForUpdate = openForUpdate

  // A track whose identity changes under every attempt of a play.
  const isCurrent = app.tracks.isCurrent
  app.tracks.isCurrent = () => false
  t.equal((await api.POST('/degrade/{filename}', { ...file('b.wav'), body: { segment_index: 0 } })).response.status, 409)
  app.tracks.isCurrent = isCurrent
})

t.test('getTrackHistory and getLibraryAnalytics', async t => {
  const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }
  t.equal((await api.POST('/degrade/{filename}', { ...file('a.wav'), body: { segment_index: 1 } })).response.status, 200)
  const history = await api.GET('/tracks/{filename}/history', { ...admin, params: { path: { filename: 'a.wav' }, query: { bucket: 'hour' } } })
  t.equal(history.response.status, 200)
  const points: Schemas['TrackHistory'] = present(history.data)
  t.ok(points.some(p => p.plays > 0), 'the play is in the history')
  const analytics = await api.GET('/admin/analytics', { ...admin, params: { query: { top: 3 } } })
  t.equal(analytics.response.status, 200)
  const figures: Schemas['LibraryAnalytics'] = present(analytics.data)
  t.ok(figures.totals.plays > 0)
  t.equal((await api.GET('/admin/analytics', { ...admin, params: { query: { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' } } })).response.status, 400)
  t.equal((await api.GET('/tracks/{filename}/history', { params: { path: { filename: 'a.wav' } } })).response.status, 401)
  t.equal((await api.GET('/tracks/{filename}/history', { ...admin, params: { path: { filename: 'missing.wav' } } })).response.status, 404)
})

// Last: what the calls above saw.

t.test('every response matched the document: status, media type, and no undeclared field', async t => {
  t.same(checker.problems, [])
})

t.test('the client called every operation in the document', async t => {
  const called = new Set([...checker.seen].map(seen => seen.split(' ')[0]))
  t.same(operationsOf(doc).map(op => op.operationId).filter(id => !called.has(id)), [])
})

t.test('every documented status of the core operations really happened', async t => {
  for (const op of operationsOf(doc)) {
    if (!['getServiceInfo', 'listTracks', 'getTrackStats', 'streamTrack', 'streamTrackHead', 'degradeSegment', 'resetTrack'].includes(op.operationId)) continue
    const documented = Object.keys(op.operation.responses ?? {})
    t.same(documented.filter(status => !checker.seen.has(`${op.operationId} ${status}`)), [], op.operationId)
  }
})
