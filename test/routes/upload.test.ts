import t from 'tap'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildTestApp, listen, type TapTest } from '../helper.js'
import { ffmpeg, ffmpegFrames, makeSignal, sox, wavOf } from '../lib/decode/fixtures.js'
import { readMetadata } from '../segment-io.js'

const TOKEN = 'upload-token'
const admin = { authorization: `Bearer ${TOKEN}` }

async function scratch (t: TapTest): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-upload-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

/** Every file the service keeps, by folder: what must not change after a refused upload. */
async function everything (audioDir: string, metadataDir: string): Promise<string[]> {
  const list = async (dir: string, prefix: string) => (await readdir(dir).catch(() => [])).map(n => `${prefix}/${n}`)
  return [...await list(audioDir, 'audio'), ...await list(metadataDir, 'metadata'), ...await list(join(metadataDir, 'originals'), 'originals'), ...await list(join(metadataDir, 'journal'), 'journal')].sort()
}

async function served (t: TapTest, env: Record<string, string | number> = {}) {
  const app = await buildTestApp(t, { tracks: { 'old.wav': {} }, env: { ADMIN_TOKEN: TOKEN, DEGRADE_RATE_LIMIT: 0, ...env } })
  return { ...app, url: await listen(app.app) }
}

const put = async (url: string, name: string, body: Buffer, headers: Record<string, string> = {}) =>
  await fetch(`${url}/tracks/${name}`, { method: 'PUT', headers: { ...admin, 'content-type': 'application/octet-stream', ...headers }, body })

t.test('a FLAC upload is stored as WAV sample for sample: 201, Location, listed, streamed', async t => {
  const dir = await scratch(t)
  const { url, audioDir } = await served(t)
  await makeSignal(join(dir, 'source.wav'), { rate: 44100, seconds: 2, encoding: ['-b', '24'], noise: true })
  await sox(join(dir, 'source.wav'), join(dir, 'source.flac'))
  const res = await put(url, 'song.wav', await readFile(join(dir, 'source.flac')), { 'content-type': 'audio/x-whatever' })
  t.equal(res.status, 201)
  t.equal(res.headers.get('location'), '/tracks/song.wav')
  t.match(await res.json(), { filename: 'song.wav', title: 'song', duration: 2, total_plays: 0, sample_rate: 44100, channels: 2, bits_per_sample: 24, sample_format: 'int' })
  t.same((await wavOf(join(audioDir, 'song.wav'))).data, (await wavOf(join(dir, 'source.wav'))).data, 'every sample as in the source')
  t.match(await (await fetch(`${url}/tracks/song.wav`)).json(), { filename: 'song.wav', bits_per_sample: 24 })
  t.same((await (await fetch(`${url}/tracks`)).json() as Array<{ filename: string }>).map(x => x.filename), ['old.wav', 'song.wav'])
  t.equal((await fetch(`${url}/degrade/song.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"segment_index":1}' })).status, 200)
})

t.test('an MP3 upload is decoded gapless: exactly the source\'s number of samples', async t => {
  const dir = await scratch(t)
  const { url, audioDir } = await served(t)
  await makeSignal(join(dir, 'source.wav'), { rate: 44100, seconds: 3 })
  await ffmpeg('-i', join(dir, 'source.wav'), '-codec:a', 'libmp3lame', '-b:a', '128k', join(dir, 'source.mp3'))
  const res = await put(url, 'lossy.wav', await readFile(join(dir, 'source.mp3')))
  t.equal(res.status, 201)
  const stored = await wavOf(join(audioDir, 'lossy.wav'))
  t.equal(stored.layout.frames, 44100 * 3, 'encoder delay and padding removed')
  t.equal(stored.layout.frames, await ffmpegFrames(join(dir, 'source.mp3'), 2), 'as ffmpeg decodes it')
  t.equal(stored.layout.format.bitsPerSample, 16)
})

t.test('an existing name is replaced by a new identity (200, counts zero), unless If-None-Match: *', async t => {
  const dir = await scratch(t)
  const { url, app, audioDir, metadataDir } = await served(t)
  for (let i = 0; i < 3; i++) await fetch(`${url}/degrade/old.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"segment_index":0}' })
  const before = await readMetadata(metadataDir, 'old.wav')
  await makeSignal(join(dir, 'new.wav'), { rate: 8000, seconds: 2, channels: 1 })
  const files = await everything(audioDir, metadataDir)
  const refused = await put(url, 'old.wav', await readFile(join(dir, 'new.wav')), { 'if-none-match': '*' })
  t.equal(refused.status, 412)
  t.same(await everything(audioDir, metadataDir), files, 'nothing left behind')
  const res = await put(url, 'old.wav', await readFile(join(dir, 'new.wav')))
  t.equal(res.status, 200)
  t.match(await res.json(), { filename: 'old.wav', total_plays: 0, channels: 1 })
  t.not((await readMetadata(metadataDir, 'old.wav')).track_id, before.track_id, 'a new identity')
  t.same(await readFile(join(audioDir, 'old.wav')), await readFile(join(dir, 'new.wav')))
  t.same(await readFile(join(metadataDir, 'originals', 'old.wav')), await readFile(join(dir, 'new.wav')), 'a new pristine copy')
  t.same((await app.inject('/stats/old.wav')).json().segment_play_counts, [0, 0, 0, 0])
})

t.test('refused uploads leave nothing behind: not audio (415), corrupt (422), too large (413), a client that leaves', async t => {
  const dir = await scratch(t)
  const { url, audioDir, metadataDir } = await served(t, { UPLOAD_MAX_BYTES: 64 * 1024 })
  await makeSignal(join(dir, 'source.wav'), { rate: 8000, seconds: 1, channels: 1 })
  await sox(join(dir, 'source.wav'), join(dir, 'source.flac'))
  const flac = await readFile(join(dir, 'source.flac'))
  const files = await everything(audioDir, metadataDir)
  const cases: Array<[string, Buffer, number, RegExp]> = [
    ['text', Buffer.from('these are the lyrics, not the song\n'.repeat(20)), 415, /not audio in a supported format; supported formats: .*FLAC/s],
    ['png', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(500)]), 415, /FLAC/],
    ['truncated FLAC', flac.subarray(0, Math.floor(flac.length / 2)), 422, /./],
    ['too large', Buffer.alloc(200 * 1024, 1), 413, /65536 bytes/]
  ]
  for (const [what, body, status, message] of cases) {
    const res = await put(url, 'x.wav', body)
    t.equal(res.status, status, what)
    t.match((await res.json() as { message: string }).message, message, what)
    t.same(await everything(audioDir, metadataDir), files, `${what}: nothing left behind`)
  }

  // Chunked, so the size is only known as it streams in.
  const chunked = await new Promise<number>((resolve, reject) => {
    const { port } = new URL(url)
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/tracks/x.wav', headers: { ...admin, 'transfer-encoding': 'chunked' } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    for (let i = 0; i < 20; i++) req.write(Buffer.alloc(8192, i))
    req.end()
  })
  t.equal(chunked, 413, 'a chunked upload is cut off once it passes the limit')

  // A client that sends half a FLAC and leaves.
  await new Promise<void>(resolve => {
    const { port } = new URL(url)
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: '/tracks/x.wav', headers: { ...admin, 'content-length': String(flac.length) } })
    req.on('error', () => resolve())
    req.write(flac.subarray(0, 4000), () => setTimeout(() => { req.destroy(); resolve() }, 200))
  })
  for (let i = 0; i < 50 && (await everything(audioDir, metadataDir)).join() !== files.join(); i++) await new Promise(resolve => setTimeout(resolve, 50))
  t.same(await everything(audioDir, metadataDir), files, 'a client that left halfway: nothing left behind')
  t.same((await (await fetch(`${url}/tracks`)).json() as Array<{ filename: string }>).map(x => x.filename), ['old.wav'])
})

t.test('replacing a track while plays go on: every play answers, none lands on the wrong audio', async t => {
  const dir = await scratch(t)
  const { url, app, audioDir, metadataDir } = await served(t, { DEGRADATION_RATE: 25 })
  await makeSignal(join(dir, 'next.wav'), { rate: 8000, seconds: 2, channels: 1 })
  const next = await readFile(join(dir, 'next.wav'))
  const plays = Array.from({ length: 120 }, async (_, i) => {
    const res = await fetch(`${url}/degrade/old.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: i % 2 }) })
    return res.status
  })
  const upload = put(url, 'old.wav', next)
  const statuses = new Set(await Promise.all(plays))
  t.equal((await upload).status, 200)
  t.same([...statuses].filter(s => s !== 200), [], 'every play acknowledged (for one identity or the other)')
  await app.degrader.checkpoint()
  const meta = await readMetadata(metadataDir, 'old.wav')
  const stored = await wavOf(join(audioDir, 'old.wav'))
  const source = await wavOf(join(dir, 'next.wav'))
  t.equal(stored.layout.frames, source.layout.frames, 'the file is the upload')
  t.equal(meta.file.size, (await readFile(join(audioDir, 'old.wav'))).length)
  // Segments nobody played since the replacement hold the upload's samples exactly.
  for (let s = 0; s < meta.total_segments; s++) {
    if (meta.segment_play_counts[s] !== 0) continue
    const bytes = 2 * 4000
    t.same(stored.data.subarray(s * bytes, (s + 1) * bytes), source.data.subarray(s * bytes, (s + 1) * bytes), `segment ${s} untouched`)
  }
})
