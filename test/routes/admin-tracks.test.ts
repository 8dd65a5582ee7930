import t from 'tap'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { buildApp } from '../../app.js'
import { buildTestApp, listen } from '../helper.js'

const TOKENS = 'first-token-0123456789,second-token-abcdef'
const admin = { authorization: 'Bearer second-token-abcdef' }

t.test('admin routes take any of the comma-separated tokens, any case of the scheme; others get 401 with WWW-Authenticate; tokens never reach the log', async t => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { ADMIN_TOKEN: TOKENS, LOG_LEVEL: 'info' } })
  // The helper's app logs nowhere: build one that logs, on the same folders.
  const logged = await buildApp({ env: { AUDIO_DIR: app.config.audioDir, METADATA_DIR: app.config.metadataDir, ADMIN_TOKEN: TOKENS, DEMO_TRACK: false }, logger: { level: 'info', stream: logStream } })
  t.teardown(async () => await logged.close())
  for (const authorization of ['Bearer first-token-0123456789', 'bearer second-token-abcdef', 'BEARER first-token-0123456789']) {
    const res = await logged.inject({ method: 'PATCH', url: '/tracks/a.wav', headers: { authorization }, payload: { title: 'A' } })
    t.equal(res.statusCode, 200, authorization)
  }
  for (const [authorization, header] of [[undefined, 'Bearer realm="ephemeral-audio"'], ['Bearer wrong-token', 'Bearer realm="ephemeral-audio", error="invalid_token"'], ['Basic Zmlyc3Q=', 'Bearer realm="ephemeral-audio", error="invalid_token"']] as const) {
    const res = await logged.inject({ method: 'DELETE', url: '/tracks/a.wav', headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], header)
    t.same(res.json(), { statusCode: 401, error: 'Unauthorized', message: 'A valid admin token is required: Authorization: Bearer <ADMIN_TOKEN>', code: 'EA_UNAUTHORIZED' })
  }
  t.equal((await logged.inject('/stats/a.wav')).statusCode, 200, 'listener routes stay open')
  const log = lines.join('')
  for (const secret of ['first-token-0123456789', 'second-token-abcdef', 'wrong-token']) t.notOk(log.includes(secret), `${secret} is not logged`)
})

t.test('without ADMIN_TOKEN the admin routes are off: 403, whatever the token', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': {} } })
  for (const request of [{ method: 'DELETE' as const, url: '/tracks/a.wav' }, { method: 'PATCH' as const, url: '/tracks/a.wav', payload: { title: 'x' } }, { method: 'POST' as const, url: '/reset/a.wav' }]) {
    const res = await app.inject({ ...request, headers: { authorization: 'Bearer anything' } })
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'EA_ADMIN_DISABLED')
  }
})

t.test('PATCH sets the title players show; the name, audio and plays stay; it survives a restart', async t => {
  const first = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { ADMIN_TOKEN: TOKENS, DEGRADE_RATE_LIMIT: 0 } })
  await first.app.inject({ method: 'POST', url: '/degrade/a.wav', payload: { segment_index: 0 } })
  const res = await first.app.inject({ method: 'PATCH', url: '/tracks/a.wav', headers: admin, payload: { title: 'Morning, worn' } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { filename: 'a.wav', title: 'Morning, worn', total_plays: 1 })
  for (const payload of [{ title: '' }, { title: 'x'.repeat(201) }, { name: 'b' }, {}]) {
    t.equal((await first.app.inject({ method: 'PATCH', url: '/tracks/a.wav', headers: admin, payload })).statusCode, 400, JSON.stringify(payload))
  }
  await first.app.close()
  const second = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir } })
  t.match((await second.app.inject('/tracks')).json(), [{ filename: 'a.wav', title: 'Morning, worn', total_plays: 1 }])
})

t.test('DELETE removes the audio, pristine copy and metadata; 404 at once; a running stream finishes; listeners hear of it', async t => {
  const { app, audioDir, metadataDir } = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 60 }, 'b.wav': {} }, env: { ADMIN_TOKEN: TOKENS, DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(app)
  await app.inject({ method: 'POST', url: '/degrade/a.wav', payload: { segment_index: 0 } })
  const events = await fetch(`${url}/events`)
  const reader = events.body!.getReader()
  const stream = await fetch(`${url}/stream/a.wav`)
  const streamed = stream.body!.getReader()
  const firstChunk = await streamed.read()

  const res = await app.inject({ method: 'DELETE', url: '/tracks/a.wav', headers: admin })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  for (const path of ['/stream/a.wav', '/stats/a.wav', '/peaks/a.wav']) t.equal((await app.inject(path)).statusCode, 404, path)
  t.equal((await app.inject({ method: 'POST', url: '/degrade/a.wav', payload: { segment_index: 0 } })).statusCode, 404)
  t.same((await app.inject('/tracks')).json().map((x: { filename: string }) => x.filename), ['b.wav'])
  t.same((await readdir(audioDir)).sort(), ['b.wav'], 'the audio is gone')
  t.same(await readdir(join(metadataDir, 'originals')), ['b.wav'], 'the pristine copy is gone')
  t.notOk((await readdir(metadataDir)).includes('a.json'), 'the metadata is gone')

  let bytes = firstChunk.value?.length ?? 0
  for (let chunk = await streamed.read(); !chunk.done; chunk = await streamed.read()) bytes += chunk.value.length
  t.equal(bytes, Number(stream.headers.get('content-length')), 'the stream already running finished from its open file')

  let text = ''
  while (!text.includes('event: removed')) text += new TextDecoder().decode((await reader.read()).value)
  t.match(text, /event: removed\ndata: \{"filename":"a\.wav"\}/)
  await reader.cancel()
  t.equal((await app.inject({ method: 'DELETE', url: '/tracks/a.wav', headers: admin })).statusCode, 404, 'a second delete finds nothing')
})

t.test('a delete cut short by a stop is finished at the next start', async t => {
  const first = await buildTestApp(t, { tracks: { 'a.wav': {}, 'b.wav': {} }, env: { ADMIN_TOKEN: TOKENS } })
  await first.app.close()
  // What a stop right after the delete's first step leaves: the audio moved aside, the rest still there.
  const audio = await readFile(join(first.audioDir, 'a.wav'))
  await writeFile(join(first.audioDir, '.deleting-0b4e4f7e-3d55-4c43-9d8f-4a36b0a0c1de-a.wav'), audio)
  const { rm } = await import('node:fs/promises')
  await rm(join(first.audioDir, 'a.wav'))
  const second = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir } })
  t.same((await readdir(second.audioDir)).sort(), ['b.wav'])
  t.same(await readdir(join(second.metadataDir, 'originals')), ['b.wav'])
  t.notOk((await readdir(second.metadataDir)).includes('a.json'))
  t.same((await second.app.inject('/tracks')).json().map((x: { filename: string }) => x.filename), ['b.wav'])
})

t.test('plays and deletes at once: every play answers 200 or 404, never a 500, and nothing of the track is left', async t => {
  const { app, audioDir } = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 4 } }, env: { ADMIN_TOKEN: TOKENS, DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(app)
  const plays = Array.from({ length: 200 }, async (_, i) => (await fetch(`${url}/degrade/a.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: i % 8 }) })).status)
  const deleted = fetch(`${url}/tracks/a.wav`, { method: 'DELETE', headers: admin }).then(r => r.status)
  const statuses = new Set(await Promise.all(plays))
  t.equal(await deleted, 204)
  t.same([...statuses].filter(s => s !== 200 && s !== 404), [])
  t.same(await readdir(audioDir), [])
})
