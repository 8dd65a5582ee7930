import t from 'tap'
import { readFile } from 'node:fs/promises'
import { buildTestApp, listen, type TapTest } from '../helper.js'

const NAME = 'song.wav'

async function setup (t: TapTest) {
  const built = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 } } })
  const url = await listen(built.app)
  const bytes = await readFile(built.tracks[NAME]!.path)
  return { ...built, url, bytes, streamUrl: `${url}/stream/${NAME}` }
}

t.test('a whole-file GET returns the exact bytes with validators', async t => {
  const { streamUrl, bytes } = await setup(t)
  const res = await fetch(`${streamUrl}?v=1732800000000`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'audio/wav')
  t.equal(res.headers.get('accept-ranges'), 'bytes')
  t.equal(res.headers.get('content-length'), String(bytes.length))
  t.equal(res.headers.get('cache-control'), 'no-cache')
  t.match(res.headers.get('etag'), /^"[^"]+"$/)
  t.ok(res.headers.get('last-modified'))
  t.same(Buffer.from(await res.arrayBuffer()), bytes)
})

const rangeCases: Array<{ name: string, range: (size: number) => string, span: (size: number) => [number, number] }> = [
  { name: "Chrome's first request bytes=0-", range: () => 'bytes=0-', span: size => [0, size - 1] },
  { name: "Safari's probe bytes=0-1", range: () => 'bytes=0-1', span: () => [0, 1] },
  { name: 'a middle range', range: () => 'bytes=100-199', span: () => [100, 199] },
  { name: 'an open-ended range', range: () => 'bytes=1000-', span: size => [1000, size - 1] },
  { name: 'a suffix range: the last 500 bytes', range: () => 'bytes=-500', span: size => [size - 500, size - 1] },
  { name: 'a suffix longer than the file', range: size => `bytes=-${size + 10}`, span: size => [0, size - 1] },
  { name: 'an end past the file, clipped', range: size => `bytes=${size - 10}-${size + 1000}`, span: size => [size - 10, size - 1] }
]

for (const c of rangeCases) {
  t.test(`206 for ${c.name}`, async t => {
    const { streamUrl, bytes } = await setup(t)
    const [start, end] = c.span(bytes.length)
    const res = await fetch(streamUrl, { headers: { range: c.range(bytes.length) } })
    t.equal(res.status, 206)
    t.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`)
    t.equal(res.headers.get('content-length'), String(end - start + 1))
    t.same(Buffer.from(await res.arrayBuffer()), bytes.subarray(start, end + 1))
  })
}

t.test('an unsatisfiable range gives 416 with the size', async t => {
  const { streamUrl, bytes } = await setup(t)
  const res = await fetch(streamUrl, { headers: { range: `bytes=${bytes.length}-` } })
  t.equal(res.status, 416)
  t.equal(res.headers.get('content-range'), `bytes */${bytes.length}`)
  const body = await res.json() as { statusCode: number, error: string }
  t.equal(body.statusCode, 416)
  t.equal(body.error, 'Range Not Satisfiable')
})

for (const malformed of ['bytes=abc', 'bytes=5-1', 'pages=0-1', 'bytes=', 'bytes=--1']) {
  t.test(`a malformed Range (${malformed}) is ignored: 200 and the whole file`, async t => {
    const { streamUrl, bytes } = await setup(t)
    const res = await fetch(streamUrl, { headers: { range: malformed } })
    t.equal(res.status, 200)
    t.same(Buffer.from(await res.arrayBuffer()), bytes)
  })
}

t.test('HEAD gives the headers of a GET and no body, for the whole file and for a range', async t => {
  const { streamUrl, bytes } = await setup(t)
  const whole = await fetch(streamUrl, { method: 'HEAD' })
  t.equal(whole.status, 200)
  t.equal(whole.headers.get('content-length'), String(bytes.length))
  t.equal(whole.headers.get('accept-ranges'), 'bytes')
  t.equal((await whole.arrayBuffer()).byteLength, 0)
  const ranged = await fetch(streamUrl, { method: 'HEAD', headers: { range: 'bytes=10-19' } })
  t.equal(ranged.status, 206)
  t.equal(ranged.headers.get('content-length'), '10')
  t.equal(ranged.headers.get('content-range'), `bytes 10-19/${bytes.length}`)
})
