import t from 'tap'
import { connect } from 'node:net'
import { join } from 'node:path'
import { once } from 'node:events'
import { buildApp } from '../../app.js'
import { buildTestApp, listen } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { defaultMaxConnections, openFileLimit } from '../../plugins/app/request-limits.js'

/** Send `head` and then one body byte every `everyMs`; resolves with what the server answered. */
async function slowBody (url: string, everyMs: number, maxMs: number): Promise<{ reply: string, ms: number }> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  await once(socket, 'connect')
  const started = Date.now()
  socket.write('POST /degrade/x.wav HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
  let reply = ''
  socket.on('data', chunk => { reply += String(chunk) })
  const timer = setInterval(() => { if (!socket.destroyed) socket.write(' ') }, everyMs)
  const limit = setTimeout(() => socket.destroy(), maxMs)
  socket.on('error', () => {})
  await once(socket, 'close')
  clearInterval(timer)
  clearTimeout(limit)
  return { reply, ms: Date.now() - started }
}

t.test('a request body trickled in byte by byte is cut off after REQUEST_TIMEOUT with 408', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'x.wav': {} }, env: { REQUEST_TIMEOUT: 1 } })
  const url = await listen(app)
  const { reply, ms } = await slowBody(url, 200, 10_000)
  t.match(reply, /^HTTP\/1\.1 408/, 'the server answers 408 Request Timeout')
  t.ok(ms < 5000, `closed after ${ms} ms, not left open for the client to hold`)
})

t.test('a download that takes longer than REQUEST_TIMEOUT is not cut', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'x.wav': { frames: 8000 * 120 } }, env: { REQUEST_TIMEOUT: 1 } })
  const { hostname, port } = new URL(await listen(app))
  const socket = connect(Number(port), hostname)
  await once(socket, 'connect')
  socket.write('GET /stream/x.wav HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  // A phone that stops reading for a while: the response waits on it, well past the request timeout.
  socket.pause()
  await new Promise(resolve => setTimeout(resolve, 2500))
  let received = 0
  socket.on('data', chunk => { received += chunk.length })
  socket.resume()
  await once(socket, 'end')
  t.ok(received > 8000 * 120 * 4, `every byte arrived (${received})`)
})

t.test('connections are bounded by the open-file limit, keeping files for the service', async t => {
  t.equal(defaultMaxConnections(20_000), 20_000 - 512)
  t.equal(defaultMaxConnections(256), 64, 'never below a usable floor')
  t.equal(defaultMaxConnections(undefined), 10_000)
  t.type(openFileLimit(), 'number', 'read from /proc/self/limits on Linux')
  t.equal(openFileLimit('/nonexistent'), undefined)
  const { app } = await buildTestApp(t, { env: { MAX_CONNECTIONS: 123 } })
  t.equal(app.server.maxConnections, 123)
})

for (const charset of ['utf-16', 'iso-8859-1', 'UTF-32']) {
  t.test(`a JSON body in charset=${charset} is refused with 415, not read as UTF-8`, async t => {
    const { app } = await buildTestApp(t, { tracks: { 'x.wav': {} } })
    const res = await app.inject({ method: 'POST', url: '/degrade/x.wav', headers: { 'content-type': `application/json; charset=${charset}` }, payload: '{"segment_index":0}' })
    t.equal(res.statusCode, 415)
    t.match(res.json(), { code: 'EA_UNSUPPORTED_CHARSET', message: /UTF-8/ })
    t.same((await app.inject('/stats/x.wav')).json().segment_play_counts[0], 0, 'no play was recorded')
  })
}

t.test('JSON in UTF-8, with or without the charset named, is accepted', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'x.wav': {} }, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"']) {
    const res = await app.inject({ method: 'POST', url: '/degrade/x.wav', headers: { 'content-type': type }, payload: '{"segment_index":0}' })
    t.equal(res.statusCode, 200, type)
  }
})

const badEnv: Array<[string, string]> = [
  ['PORT', '0x50'],
  ['PORT', '8e1'],
  ['SEGMENT_DURATION', '1e-9'],
  ['SEGMENT_DURATION', 'Infinity'],
  ['SEGMENT_DURATION', '0.01'],
  ['SEGMENT_DURATION', '61'],
  ['DEGRADATION_RATE', 'NaN'],
  ['REQUEST_TIMEOUT', '0']
]
for (const [name, value] of badEnv) {
  t.test(`${name}=${value} stops the service at boot, naming the variable`, async t => {
    const dir = t.testdir({})
    await t.rejects(buildApp({ env: { AUDIO_DIR: join(dir, 'a'), METADATA_DIR: join(dir, 'm'), [name]: value } }), new RegExp(name))
  })
}

t.test('decimal settings with a sign or a fraction are read as written', async t => {
  const { app } = await buildTestApp(t, { env: { SEGMENT_DURATION: '0.25', DEGRADE_RATE_LIMIT: '-1', PORT: '8080' } })
  t.equal(app.config.segmentDuration, 0.25)
  t.equal(app.config.port, 8080)
})

for (const [what, options, reason] of [
  ['1 Hz', { sampleRate: 1, bitsPerSample: 8, channels: 1 }, /1 Hz.*1000 Hz to 768000 Hz/],
  ['999 Hz', { sampleRate: 999 }, /999 Hz/],
  ['1 MHz', { sampleRate: 1_000_000 }, /1000000 Hz/],
  ['65 channels', { channels: 65, frames: 100 }, /65 channels/]
] as const) {
  t.test(`a WAV whose header claims ${what} is refused with 422 and a reason, and the listing still works`, async t => {
    const { app, audioDir } = await buildTestApp(t, { tracks: { 'good.wav': {} } })
    await writeTestWav(join(audioDir, 'absurd.wav'), options)
    const res = await app.inject('/stats/absurd.wav')
    t.equal(res.statusCode, 422)
    t.match(res.json().message, reason)
    const list = await app.inject('/tracks')
    t.equal(list.statusCode, 200)
    t.same(list.json().map((x: { filename: string }) => x.filename), ['good.wav'])
  })
}
