import t from 'tap'
import { EventEmitter } from 'node:events'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { get } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import Fastify from 'fastify'
import trackCachePlugin, { createTrackCache } from '../../plugins/app/track-cache.js'
import wavIoPlugin, { createWavIo } from '../../plugins/app/wav-io.js'
import type { Track } from '../../plugins/app/track-store.js'
import { freshMetadata } from '../../lib/track-metadata.js'
import { segmentCount, segmentSpan } from '../../lib/wav-format.js'
import { writeTestWav, type TestWavOptions } from '../fixtures/wav-fixtures.js'
import { layoutOf } from '../segment-io.js'
import { buildTestApp, listen, type TapTest } from '../helper.js'

const SEGMENT = 0.5

async function folder (t: TapTest): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'track-cache-test-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

/** A Track as the track store would make it, without the store. */
async function trackFile (dir: string, name: string, options: TestWavOptions = {}): Promise<{ track: Track, bytes: Buffer }> {
  const wav = await writeTestWav(join(dir, name), { frames: 8000, ...options })
  const layout = layoutOf(wav)
  const meta = freshMetadata({
    filename: name,
    title: name,
    layout,
    segmentDuration: SEGMENT,
    totalSegments: segmentCount(layout, SEGMENT),
    file: { size: wav.fileSize, mtime_ms: 0 }
  })
  const { ino, dev, mtimeMs } = await stat(wav.path)
  const track: Track = { id: meta.track_id, key: name.toLowerCase(), filename: name, path: wav.path, pristinePath: wav.path, inode: { ino, dev }, knownMtimeMs: mtimeMs, meta, plays: 0, lastModified: new Date(), suspect: false, adoptsJournal: false, retired: false }
  return { track, bytes: await readFile(wav.path) }
}

async function collect (body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function loadedCache (t: TapTest, options = {}) {
  const dir = await folder(t)
  const { track, bytes } = await trackFile(dir, 'a.wav', { chunksAfterData: [{ id: 'LIST', body: Buffer.from('after the frames') }] })
  const cache = createTrackCache(createWavIo(), options)
  t.teardown(async () => await cache.close())
  t.equal(cache.read(track, { start: 0, end: 9 }), undefined, 'first request: from disk')
  t.equal(cache.read(track, { start: 0, end: 9 }), undefined, 'second request: from disk, and loading')
  await cache.loaded(track)
  t.ok(cache.cached(track))
  return { dir, track, bytes, cache }
}

t.test('once a track has been asked for twice, any range of it comes from memory, exactly', async t => {
  const { track, bytes, cache } = await loadedCache(t)
  const span = segmentSpan(track.meta.layout, SEGMENT, 1)
  const ranges = [
    { start: 0, end: bytes.length - 1 },
    { start: 0, end: 1 },
    { start: 10, end: span.byteOffset + 5 },
    { start: span.byteOffset, end: span.byteOffset + span.byteLength - 1 },
    { start: bytes.length - 20, end: bytes.length - 1 }
  ]
  for (const range of ranges) {
    const slices = cache.read(track, range)
    t.ok(slices !== undefined && Buffer.concat(slices).equals(bytes.subarray(range.start, range.end + 1)), `bytes ${range.start}-${range.end}`)
    t.ok((await collect(cache.body(track, range))).equals(bytes.subarray(range.start, range.end + 1)), `body ${range.start}-${range.end}`)
  }
  t.equal(cache.stats.bytes, bytes.length)
})

t.test('a write replaces the segment for later reads; a read already taken keeps the bytes it had', async t => {
  const { track, bytes, cache } = await loadedCache(t)
  const span = segmentSpan(track.meta.layout, SEGMENT, 1)
  const whole = { start: 0, end: bytes.length - 1 }
  const before = cache.read(track, whole)!
  const rendered = Buffer.alloc(span.byteLength, 0x11)
  cache.write(track, span.byteOffset, rendered)
  const expected = Buffer.from(bytes)
  rendered.copy(expected, span.byteOffset)
  t.ok(Buffer.concat(cache.read(track, whole)!).equals(expected), 'later reads see the write')
  t.ok(Buffer.concat(before).equals(bytes), 'a reply being sent is not changed under it')

  // A write that does not match a segment (not the degrader's, but allowed): copied in.
  cache.write(track, 3, Buffer.from('xyz'))
  expected.write('xyz', 3)
  cache.write(track, span.byteOffset - 2, Buffer.from('abcd'))
  expected.write('abcd', span.byteOffset - 2)
  t.ok(Buffer.concat(cache.read(track, whole)!).equals(expected))
})

t.test('a write never changes bytes a reply is still sending; once it is done, pieces are rewritten in place', async t => {
  const { track, cache } = await loadedCache(t)
  const span = segmentSpan(track.meta.layout, SEGMENT, 1)
  const segment = { start: span.byteOffset, end: span.byteOffset + span.byteLength - 1 }
  const first = new EventEmitter()
  const sending = cache.read(track, segment, first)!
  const before = Buffer.from(sending[0]!)
  const x = Buffer.alloc(span.byteLength, 0x33)
  cache.write(track, span.byteOffset, x)
  t.ok(sending[0]!.equals(before), 'the reply still sends the bytes it started with')
  const later = new EventEmitter()
  t.ok(Buffer.concat(cache.read(track, segment, later)!).equals(x), 'later replies get the write')
  later.emit('close')

  first.emit('close')
  const second = new EventEmitter()
  const done = cache.read(track, segment, second)!
  second.emit('close')
  const y = Buffer.alloc(span.byteLength, 0x44)
  cache.write(track, span.byteOffset, y)
  t.ok(done[0]!.equals(y), 'no reply holds the piece: it was rewritten in place, not copied')

  // The degrader reuses its buffer for the next play: the cache must have copied it.
  y.fill(0x55)
  t.ok(Buffer.concat(cache.read(track, segment)!).equals(Buffer.alloc(span.byteLength, 0x44)), 'the writer may reuse its buffer')
})

t.test('writes made while the track is being read into memory are not lost', async t => {
  const dir = await folder(t)
  const { track, bytes } = await trackFile(dir, 'a.wav')
  const cache = createTrackCache(createWavIo(), { admitAfter: 1 })
  t.teardown(async () => await cache.close())
  t.equal(cache.read(track, { start: 0, end: 1 }), undefined)
  // The degrader writes the file, then tells the cache, while the load is in flight; the
  // load may read the segment before or after the file write. The write is applied either
  // way, which shows best with a write the file never gets.
  const span = segmentSpan(track.meta.layout, SEGMENT, 0)
  const rendered = Buffer.alloc(span.byteLength, 0x22)
  const expected = Buffer.from(bytes)
  rendered.copy(expected, span.byteOffset)
  cache.write(track, span.byteOffset, rendered)
  rendered.fill(0)
  await cache.loaded(track)
  t.ok(Buffer.concat(cache.read(track, { start: 0, end: bytes.length - 1 })!).equals(expected))
})

t.test('dropped, replaced or oversized tracks are not served from memory', async t => {
  const { track, cache } = await loadedCache(t)
  cache.drop(track)
  t.notOk(cache.cached(track))
  t.equal(cache.stats.bytes, 0)

  const { track: other } = await loadedCache(t)
  const stale = cache.read(other, { start: 0, end: 1 })
  t.equal(stale, undefined, 'another cache instance knows nothing of it')
  const { track: renewed, cache: c2 } = await loadedCache(t)
  renewed.meta = { ...renewed.meta, track_id: 'a-new-track' }
  t.equal(c2.read(renewed, { start: 0, end: 1 }), undefined, 'a new track_id is a miss')
  t.notOk(c2.cached(renewed))

  const dir = await folder(t)
  const { track: big } = await trackFile(dir, 'big.wav')
  const small = createTrackCache(createWavIo(), { admitAfter: 1, maxBytes: 1000, maxTrackBytes: 1000 })
  t.teardown(async () => await small.close())
  small.read(big, { start: 0, end: 1 })
  await small.loaded(big)
  t.notOk(small.cached(big), 'larger than maxTrackBytes: always from disk')
})

t.test('the least recently used tracks leave when the budget is full', async t => {
  const dir = await folder(t)
  const files = await Promise.all(['a.wav', 'b.wav', 'c.wav'].map(async n => await trackFile(dir, n)))
  const size = files[0]!.bytes.length
  const cache = createTrackCache(createWavIo(), { admitAfter: 1, maxBytes: 2 * size, maxTrackBytes: size })
  t.teardown(async () => await cache.close())
  const [a, b, c] = files.map(f => f.track) as [Track, Track, Track]
  for (const track of [a, b]) {
    cache.read(track, { start: 0, end: 1 })
    await cache.loaded(track)
  }
  cache.read(a, { start: 0, end: 1 })
  cache.read(c, { start: 0, end: 1 })
  await cache.loaded(c)
  t.ok(cache.cached(a), 'a, used last, stays')
  t.notOk(cache.cached(b), 'b, the least recently used, left')
  t.ok(cache.cached(c))
  t.equal(cache.stats.evictions, 1)
  t.equal(cache.stats.bytes, 2 * size)
})

t.test('tracks not in memory stream from disk through one shared handle', async t => {
  const dir = await folder(t)
  const { track, bytes } = await trackFile(dir, 'a.wav', { frames: 20000 })
  const cache = createTrackCache(createWavIo(), { admitAfter: 1000, readChunk: 1000, maxOpenFiles: 1 })
  t.teardown(async () => await cache.close())
  for (const range of [{ start: 0, end: bytes.length - 1 }, { start: 999, end: 3001 }, { start: 5, end: 5 }]) {
    t.ok((await collect(cache.body(track, range))).equals(bytes.subarray(range.start, range.end + 1)), `bytes ${range.start}-${range.end}`)
  }
  // A second track beyond maxOpenFiles closes the first one's idle handle; both still read right.
  const { track: other, bytes: otherBytes } = await trackFile(dir, 'b.wav')
  t.ok((await collect(cache.stream(other, { start: 0, end: 99 }))).equals(otherBytes.subarray(0, 100)))
  t.ok((await collect(cache.stream(track, { start: 0, end: 99 }))).equals(bytes.subarray(0, 100)))

  const gone = { ...track, path: join(dir, 'missing.wav') }
  await t.rejects(collect(cache.stream(gone, { start: 0, end: 9 })), { code: 'ENOENT' })
  const cut = { ...other, meta: { ...other.meta, file: { ...other.meta.file, size: otherBytes.length + 10 } } }
  await t.rejects(collect(cache.stream(cut, { start: otherBytes.length - 5, end: otherBytes.length + 5 })), /unexpected end of file/)
})

t.test('streamed from disk into a response, reusing one buffer per client, a large range arrives intact to fast and slow readers', async t => {
  const dir = await folder(t)
  const { track, bytes } = await trackFile(dir, 'a.wav', { frames: 60000 })
  const app = Fastify()
  await app.register(wavIoPlugin)
  await app.register(trackCachePlugin, { admitAfter: 1000, readChunk: 4096 })
  app.get('/a', async (request, reply) => {
    const range = { start: 3, end: bytes.length - 2 }
    return await reply.header('content-length', range.end - range.start + 1).send(app.trackCache.stream(track, range))
  })
  t.teardown(async () => await app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const expected = bytes.subarray(3, bytes.length - 1)

  const fast = Buffer.from(await (await fetch(`http://127.0.0.1:${port}/a`)).arrayBuffer())
  t.ok(fast.equals(expected), 'fast reader')

  // A reader that stalls lets the socket fill up, so chunks wait in the response's buffers.
  const slow = await new Promise<Buffer>((resolve, reject) => {
    get(`http://127.0.0.1:${port}/a`, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        res.pause()
        setTimeout(() => res.resume(), 2)
      })
      res.on('end', () => resolve(Buffer.concat(chunks)))
      res.on('error', reject)
    }).on('error', reject)
  })
  t.ok(slow.equals(expected), 'slow reader')
})

t.test('a track that cannot be read into memory keeps being served from disk', async t => {
  const dir = await folder(t)
  const { track } = await trackFile(dir, 'a.wav')
  const gone = { ...track, path: join(dir, 'missing.wav') }
  const cache = createTrackCache(createWavIo(), { admitAfter: 1 })
  t.teardown(async () => await cache.close())
  t.equal(cache.read(gone, { start: 0, end: 1 }), undefined)
  await cache.loaded(gone)
  t.notOk(cache.cached(gone))
  t.equal(cache.stats.loads, 0)
})

t.test('regression: a play whose write fails drops the track from memory (its bytes on disk are unknown)', async t => {
  const NAME = 'song.wav'
  const { app } = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  const track = await app.tracks.get(NAME)
  for (let i = 0; i < 2; i++) await app.inject(`/stream/${NAME}`)
  await app.trackCache.loaded(track)
  t.ok(app.trackCache.cached(track))
  const writeSpan = app.wav.writeSpan
  app.wav.writeSpan = async () => { throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }) }
  t.teardown(() => { app.wav.writeSpan = writeSpan })
  const res = await app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'EA_DISK_FULL', message: /disk is full/ })
  t.equal(res.headers['retry-after'], '60')
  t.notOk(app.trackCache.cached(track), 'no longer served from memory')
  app.wav.writeSpan = writeSpan
  const ok = await app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0 } })
  t.equal(ok.statusCode, 200)
  const streamed = (await app.inject(`/stream/${NAME}`)).rawPayload
  t.ok(streamed.equals(await readFile(track.path)), 'the bytes on disk')
})

t.test('maxTrackBytes above maxBytes is refused', async t => {
  t.throws(() => createTrackCache(createWavIo(), { maxBytes: 10, maxTrackBytes: 20 }), RangeError)
})

t.test('regression: after a play, a track served from memory streams the degraded bytes, as on disk', async t => {
  const NAME = 'song.wav'
  const { app } = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 10 } })
  const url = await listen(app)
  const track = await app.tracks.get(NAME)
  const path = track.path
  for (let i = 0; i < 2; i++) await (await fetch(`${url}/stream/${NAME}`)).arrayBuffer()
  await app.trackCache.loaded(track)
  t.ok(app.trackCache.cached(track), 'the track is in memory')
  const before = Buffer.from(await (await fetch(`${url}/stream/${NAME}`)).arrayBuffer())

  for (const segment of [1, 1, 0]) {
    const played = await fetch(`${url}/degrade/${NAME}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })
    t.equal(played.status, 200)
  }
  const onDisk = await readFile(path)
  t.notOk(onDisk.equals(before), 'the plays changed the file')
  const whole = Buffer.from(await (await fetch(`${url}/stream/${NAME}`)).arrayBuffer())
  t.ok(whole.equals(onDisk), 'whole file: the bytes on disk')
  const span = segmentSpan(track.meta.layout, track.meta.segment_duration, 1)
  const range = `bytes=${span.byteOffset - 7}-${span.byteOffset + 100}`
  const part = Buffer.from(await (await fetch(`${url}/stream/${NAME}`, { headers: { range } })).arrayBuffer())
  t.ok(part.equals(onDisk.subarray(span.byteOffset - 7, span.byteOffset + 101)), 'a range across the segment: the bytes on disk')
  t.ok(app.trackCache.stats.hits >= 3)
})
