import t from 'tap'
import { readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { buildTestApp, listen, type TapTest } from '../helper.js'

const NAME = 'song.wav'

async function setup (t: TapTest) {
  const built = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const url = await listen(built.app)
  const bytes = await readFile(built.tracks[NAME]!.path)
  const play = async (segment: number) => await fetch(`${url}/degrade/${NAME}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment })
  })
  return { ...built, url, bytes, play, streamUrl: `${url}/stream/${NAME}` }
}

t.test('If-None-Match with the current ETag gives 304; after a play the ETag changes and the file is sent again', async t => {
  const { streamUrl, play } = await setup(t)
  const first = await fetch(streamUrl)
  await first.arrayBuffer()
  const etag = first.headers.get('etag')!
  const cached = await fetch(streamUrl, { headers: { 'if-none-match': etag } })
  t.equal(cached.status, 304)
  t.equal(cached.headers.get('etag'), etag)
  t.equal(cached.headers.get('content-type'), null, 'a 304 has no content type')
  t.equal((await cached.arrayBuffer()).byteLength, 0, 'and no body')
  t.equal((await play(0)).status, 200)
  const changed = await fetch(streamUrl, { headers: { 'if-none-match': etag } })
  t.equal(changed.status, 200)
  t.not(changed.headers.get('etag'), etag, 'every write gives a new ETag, even within one mtime tick')
  await changed.arrayBuffer()
})

t.test('two plays within the same second still give two different ETags', async t => {
  const { streamUrl, play } = await setup(t)
  const tags = new Set<string>()
  for (let i = 0; i < 3; i++) {
    await play(1)
    const res = await fetch(streamUrl, { method: 'HEAD' })
    tags.add(res.headers.get('etag')!)
  }
  t.equal(tags.size, 3)
})

t.test('If-Modified-Since at Last-Modified gives 304 when there is no If-None-Match', async t => {
  const { streamUrl } = await setup(t)
  const first = await fetch(streamUrl, { method: 'HEAD' })
  const res = await fetch(streamUrl, { headers: { 'if-modified-since': first.headers.get('last-modified')! } })
  t.equal(res.status, 304)
})

t.test('If-Range: a current strong ETag keeps the range, a stale one gets the whole file', async t => {
  const { streamUrl, play, bytes } = await setup(t)
  const etag = (await fetch(streamUrl, { method: 'HEAD' })).headers.get('etag')!
  const kept = await fetch(streamUrl, { headers: { range: 'bytes=0-9', 'if-range': etag } })
  t.equal(kept.status, 206)
  t.equal((await kept.arrayBuffer()).byteLength, 10)
  await play(0)
  const stale = await fetch(streamUrl, { headers: { range: 'bytes=0-9', 'if-range': etag } })
  t.equal(stale.status, 200)
  t.equal((await stale.arrayBuffer()).byteLength, bytes.length)
  const weak = await fetch(streamUrl, { headers: { range: 'bytes=0-9', 'if-range': `W/${etag}` } })
  t.equal(weak.status, 200, 'a weak tag never matches If-Range')
  await weak.arrayBuffer()
})

t.test('If-Match with another tag fails with 412 in the error shape', async t => {
  const { streamUrl } = await setup(t)
  const res = await fetch(streamUrl, { headers: { 'if-match': '"something-else"' } })
  t.equal(res.status, 412)
  t.equal((await res.json() as { error: string }).error, 'Precondition Failed')
})

t.test('multiple ranges give a correct multipart/byteranges body', async t => {
  const { streamUrl, bytes } = await setup(t)
  const res = await fetch(streamUrl, { headers: { range: 'bytes=0-3,100-109' } })
  t.equal(res.status, 206)
  const type = res.headers.get('content-type')!
  const boundary = /^multipart\/byteranges; boundary=(.+)$/.exec(type)?.[1]
  t.ok(boundary, type)
  const body = Buffer.from(await res.arrayBuffer())
  t.equal(res.headers.get('content-length'), String(body.length))
  const text = body.toString('latin1')
  const parts = text.split(`--${boundary!}`).slice(1, -1)
  t.equal(parts.length, 2)
  const expected = [[0, 3], [100, 109]] as const
  parts.forEach((part, i) => {
    const [start, end] = expected[i]!
    const [head, ...rest] = part.split('\r\n\r\n')
    t.match(head, `Content-Range: bytes ${start}-${end}/${bytes.length}`)
    t.match(head, 'Content-Type: audio/wav')
    const data = Buffer.from(rest.join('\r\n\r\n'), 'latin1').subarray(0, end - start + 1)
    t.same(data, bytes.subarray(start, end + 1))
  })
})

t.test('total_streams counts listens: whole GETs and ranges from byte 0 past the header, never HEAD, probes or seeks', async t => {
  const { app, streamUrl } = await setup(t)
  const streams = async () => (await app.inject(`/stats/${NAME}`)).json().total_streams as number
  const get = async (headers: Record<string, string> = {}, method = 'GET') => { await (await fetch(streamUrl, { method, headers })).arrayBuffer() }
  await get()
  t.equal(await streams(), 1, 'a plain GET is a listen')
  await get({ range: 'bytes=0-' })
  t.equal(await streams(), 2, "Chrome's bytes=0- is a listen")
  await get({ range: 'bytes=0-1' })
  await get({ range: 'bytes=5000-' })
  await get({}, 'HEAD')
  await get({ range: 'bytes=-100' })
  t.equal(await streams(), 2, 'probe, seek, HEAD and suffix are not listens')
})

t.test('file names that try to leave AUDIO_DIR or are not tracks never reach a byte outside it', async t => {
  const { url, audioDir, app } = await setup(t)
  await writeFile(join(audioDir, '..', 'secret.wav'), 'RIFF-not-for-you')
  await symlink(join(audioDir, '..', 'secret.wav'), join(audioDir, 'link.wav'))
  const attempts = [
    '..%2Fsecret.wav', '..%5Csecret.wav', '%2E%2E%2Fsecret.wav', 'a%00.wav', '%2Fetc%2Fpasswd',
    '.hidden.wav', 'link.wav', 'song.txt', `${'a'.repeat(300)}.wav`, 'missing.wav'
  ]
  for (const name of attempts) {
    const res = await fetch(`${url}/stream/${name}`)
    const text = await res.text()
    t.ok([400, 404].includes(res.status), `${name}: ${res.status}`)
    t.notMatch(text, 'RIFF-not-for-you')
    t.doesNotThrow(() => JSON.parse(text), 'errors are JSON')
  }
  const listed = (await app.inject('/tracks')).json() as Array<{ filename: string }>
  t.same(listed.map(x => x.filename), [NAME], 'the symlink out of AUDIO_DIR is not listed')
})

t.test('CORS lets a player on another origin read range headers and send Range', async t => {
  const { streamUrl } = await setup(t)
  const preflight = await fetch(streamUrl, {
    method: 'OPTIONS',
    headers: { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range,if-range' }
  })
  t.ok(preflight.status === 204 || preflight.status === 200)
  t.match(preflight.headers.get('access-control-allow-headers') ?? '', /Range/i)
  const res = await fetch(streamUrl, { headers: { origin: 'https://player.example', range: 'bytes=0-1' } })
  await res.arrayBuffer()
  t.equal(res.headers.get('access-control-allow-origin'), '*')
  const exposed = res.headers.get('access-control-expose-headers') ?? ''
  for (const h of ['Content-Range', 'Accept-Ranges', 'Content-Length', 'ETag']) t.match(exposed, h)
})

t.test('clients that disconnect mid-stream leave no connection, stream or file handle behind', async t => {
  const built = await buildTestApp(t, { tracks: { 'big.wav': { frames: 8000 * 300 } } })
  const url = await listen(built.app)
  const { port } = new URL(url)
  const openFiles = async () => {
    const fds = await readdir('/proc/self/fd')
    const targets = await Promise.all(fds.map(async fd => await readlink(`/proc/self/fd/${fd}`).catch(() => '')))
    return targets.filter(target => target.endsWith('big.wav')).length
  }
  const connections = async () => await new Promise<number>((resolve, reject) =>
    built.app.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
  // Raw sockets: the client side goes away at once, as a closed browser tab does.
  const sockets = await Promise.all(Array.from({ length: 5 }, async () => {
    const socket = connect(Number(port), '127.0.0.1')
    socket.write('GET /stream/big.wav HTTP/1.1\r\nHost: x\r\n\r\n')
    await once(socket, 'data')
    return socket
  }))
  t.equal(await connections(), 5, 'five streams in flight')
  for (const socket of sockets) socket.destroy()
  for (let i = 0; i < 100 && await connections() > 0; i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(await connections(), 0, 'the server noticed every disconnect')
  // A stream closes its file a turn or two after its socket is gone (later on a loaded machine): poll for it.
  for (let i = 0; i < 200 && await openFiles() > 1; i++) await new Promise(resolve => setTimeout(resolve, 25))
  t.ok(await openFiles() <= 1, 'no file handle per client is left open (at most one shared handle)')
  const again = await fetch(`${url}/stream/big.wav`, { headers: { range: 'bytes=-10' } })
  t.equal((await again.arrayBuffer()).byteLength, 10)
})

t.test('the ETag names a play\'s bytes only once they are written', async t => {
  const { app, streamUrl, play } = await setup(t)
  const etagNow = async () => (await fetch(streamUrl, { method: 'HEAD' })).headers.get('etag')
  const before = await etagNow()
  const writeSpan = app.wav.writeSpan
  let release: () => void = () => {}
  let writing: () => void = () => {}
  const started = new Promise<void>(resolve => { writing = resolve })
  app.wav.writeSpan = async (...args) => {
    writing()
    await new Promise<void>(resolve => { release = resolve })
    return await writeSpan(...args)
  }
  const played = play(0)
  await started
  t.equal(await etagNow(), before, 'while the segment is being written, the old ETag stands')
  release()
  t.equal((await played).status, 200)
  app.wav.writeSpan = writeSpan
  t.not(await etagNow(), before, 'once written, the new one')
})
