import { execFileSync } from 'node:child_process'
import t from 'tap'
import { open, readFile } from 'node:fs/promises'
import WaveformData from 'waveform-data'
import { buildTestApp, type TapTest } from '../helper.js'
import type { TestWavOptions } from '../fixtures/wav-fixtures.js'

const NAME = 'song.wav'

async function setup (t: TapTest, wav: TestWavOptions = { frames: 8000 }, env: Record<string, string | number | boolean> = {}) {
  const built = await buildTestApp(t, { tracks: { [NAME]: wav }, env: { DEGRADE_RATE_LIMIT: 0, ...env } })
  const play = async (segment: number) => {
    const res = await built.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: segment } })
    t.equal(res.statusCode, 200, `play of segment ${segment}`)
  }
  return { ...built, wav: built.tracks[NAME]!, play }
}

/** Min/max of the 16-bit samples on disk now, computed here from the file's bytes: pixel by pixel, channel by channel. */
async function minMaxOnDisk (path: string, dataOffset: number, channels: number, spp: number, mode: 'mixed' | 'split'): Promise<number[]> {
  const bytes = (await readFile(path)).subarray(dataOffset)
  const frames = bytes.length / (2 * channels)
  const out: number[] = []
  for (let first = 0; first < frames; first += spp) {
    const last = Math.min(frames, first + spp)
    const values = (c: number) => Array.from({ length: last - first }, (_, i) => bytes.readInt16LE(((first + i) * channels + c) * 2))
    if (mode === 'split') {
      for (let c = 0; c < channels; c++) out.push(Math.min(...values(c)), Math.max(...values(c)))
    } else {
      const mixed = Array.from({ length: last - first }, (_, i) => {
        let sum = 0
        for (let c = 0; c < channels; c++) sum += bytes.readInt16LE(((first + i) * channels + c) * 2)
        return Math.trunc(sum / channels)
      })
      out.push(Math.min(...mixed), Math.max(...mixed))
    }
  }
  return out
}

t.test('GET /peaks is audiowaveform JSON that waveform-data reads, with the min/max of the file', async t => {
  const { app, wav } = await setup(t, { frames: 8000, channels: 2 })
  for (const [query, spp, bits, mode] of [
    ['', 256, 8, 'mixed'],
    ['?samples_per_pixel=100&bits=16', 100, 16, 'mixed'],
    ['?samples_per_pixel=333&bits=16&channels=split', 333, 16, 'split'],
    ['?pixels_per_second=30&channels=split', 266, 8, 'split']
  ] as const) {
    const res = await app.inject(`/peaks/${NAME}${query}`)
    t.equal(res.statusCode, 200, query)
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(res.headers['cache-control'], 'no-cache')
    const body = res.json()
    t.same(Object.keys(body), ['version', 'channels', 'sample_rate', 'samples_per_pixel', 'bits', 'length', 'data'], 'audiowaveform\'s keys and no other')
    t.match(body, { version: 2, channels: mode === 'mixed' ? 1 : 2, sample_rate: 8000, samples_per_pixel: spp, bits, length: Math.ceil(8000 / spp) })
    const expected = (await minMaxOnDisk(wav.path, wav.dataOffset, 2, spp, mode)).map(v => bits === 8 ? Math.trunc(v / 256) : v)
    t.same(body.data, expected, `${query || 'defaults'}: the values computed independently from the file`)
    const waveform = WaveformData.create(body)
    const read: number[] = []
    for (let i = 0; i < waveform.length; i++) {
      for (let c = 0; c < waveform.channels; c++) read.push(waveform.channel(c).min_sample(i), waveform.channel(c).max_sample(i))
    }
    t.same(read, expected, 'and waveform-data reads the same values')
  }
})

t.test('the peaks follow the degraded audio, and the ETag follows the version', async t => {
  // At 100 % a single play silences its whole segment.
  const { app, wav, play } = await setup(t, { frames: 8000, channels: 1 }, { DEGRADATION_RATE: 100 })
  const url = `/peaks/${NAME}?samples_per_pixel=1000&bits=16`
  const before = await app.inject(url)
  const etag = before.headers.etag as string
  t.match(etag, /^"[0-9a-f-]+-0-1000-16m"$/, 'the ETag names the track, its plays and the view')
  t.ok(before.json().data.every((v: number) => v !== 0), 'the test signal is never silent')

  const again = await app.inject({ url, headers: { 'if-none-match': etag } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  t.equal(again.headers.etag, etag)
  t.equal(again.headers['content-length'], undefined, 'a 304 carries no body length')

  await play(1)
  const after = await app.inject({ url, headers: { 'if-none-match': etag } })
  t.equal(after.statusCode, 200, 'a play makes the old version stale')
  t.not(after.headers.etag, etag)
  t.match(after.headers.etag, /-1-1000-16m"$/)
  const data = after.json().data as number[]
  // Segment 1 is frames 4000-7999: pixels 4-7.
  t.same(data.slice(8), new Array(8).fill(0), 'the silenced segment is flat')
  t.same(data.slice(0, 8), before.json().data.slice(0, 8), 'the other one is untouched')
  t.same(data, await minMaxOnDisk(wav.path, wav.dataOffset, 1, 1000, 'mixed'))

  const otherView = await app.inject(`/peaks/${NAME}?samples_per_pixel=1000`)
  t.not(otherView.headers.etag, after.headers.etag, 'another view, another ETag')
})

t.test('cached per version; a play re-reads only the pixels of its segment', async t => {
  const { app, wav, play } = await setup(t, { frames: 24_000, channels: 1 }, { DEGRADATION_RATE: 100 })
  const url = `/peaks/${NAME}?samples_per_pixel=500&bits=16`
  const first = (await app.inject(url)).json()
  // Silence frames 0-999 (pixels 0 and 1) behind the service's back: only a read of the file can see it.
  // The mtime is put back (to the nanosecond, with touch -r), or the service would rightly take it for a new track.
  execFileSync('touch', ['-r', wav.path, `${wav.path}.times`])
  const file = await open(wav.path, 'r+')
  await file.write(Buffer.alloc(2000), 0, 2000, wav.dataOffset)
  await file.close()
  execFileSync('touch', ['-r', `${wav.path}.times`, wav.path])
  t.same((await app.inject(url)).json(), first, 'same version, same body, from the cache')
  const eight = (await app.inject(`/peaks/${NAME}?samples_per_pixel=500&bits=8`)).json()
  t.same(eight.data, first.data.map((v: number) => Math.trunc(v / 256)), 'another resolution of the values reuses the peaks read')
  const finer = (await app.inject(`/peaks/${NAME}?samples_per_pixel=250&bits=16`)).json()
  t.same(finer.data.slice(0, 8), [0, 0, 0, 0, 0, 0, 0, 0], 'another zoom reads the file as it is')

  await play(1)
  const next = (await app.inject(url)).json()
  t.same(next.data.slice(0, 4), first.data.slice(0, 4), 'segment 0 was not read again: its count did not change')
  const onDisk = await minMaxOnDisk(wav.path, wav.dataOffset, 1, 500, 'mixed')
  t.same(next.data.slice(16, 32), new Array(16).fill(0), 'segment 1 (pixels 8-15) was: a play at 100 % silenced it')
  t.same(next.data.slice(4), onDisk.slice(4), 'everything but the pixels changed behind our back is the file as it is')
})

t.test('patched peaks always equal a full read, whatever the plays and zooms', async t => {
  // 3 segments of 4000 frames and a short fourth; zooms that do and do not divide a segment.
  const { app, wav, play } = await setup(t, { frames: 13_500, channels: 2 }, { DEGRADATION_RATE: 7 })
  const views = ['samples_per_pixel=300', 'samples_per_pixel=4000&channels=split', 'samples_per_pixel=777&channels=split', 'samples_per_pixel=2']
  const sequence = [1, 1, 3, 0, 2, 2, 2, 3, 1, 0, 0, 3]
  for (const [i, segment] of sequence.entries()) {
    await play(segment)
    const view = views[i % views.length]!
    const res = await app.inject(`/peaks/${NAME}?bits=16&${view}`)
    const spp = Number(/samples_per_pixel=(\d+)/.exec(view)![1])
    t.same(res.json().data, await minMaxOnDisk(wav.path, wav.dataOffset, 2, spp, view.includes('split') ? 'split' : 'mixed'), `after play ${i + 1}, ${view}`)
  }
  // Most segments changed at once: the whole file is read again.
  for (const segment of [0, 1, 2]) await play(segment)
  const res = await app.inject(`/peaks/${NAME}?bits=16&samples_per_pixel=300`)
  t.same(res.json().data, await minMaxOnDisk(wav.path, wav.dataOffset, 2, 300, 'mixed'), 'after three plays at once')
})

t.test('concurrent requests for one version get one body', async t => {
  const { app } = await setup(t, { frames: 80_000, channels: 2 })
  const url = `/peaks/${NAME}?samples_per_pixel=64&channels=split`
  const bodies = await Promise.all(Array.from({ length: 5 }, async () => (await app.inject(url)).body))
  t.equal(new Set(bodies).size, 1)
})

t.test('a waveform read while plays keep landing is served without an ETag and not cached', async t => {
  const { app } = await setup(t, { frames: 400_000, channels: 6 })
  const url = `/peaks/${NAME}?samples_per_pixel=2&bits=16`
  // Fake plays of another segment on every turn of the event loop while the file is read.
  const storming = { on: true }
  const storm = (async () => {
    while (storming.on) {
      app.degrader.events.emit('play', { filename: NAME, segment_index: 0, play_count: 1, segment_degradation: 1, overall_degradation: 0.1, total_plays: 1 })
      await new Promise(resolve => setImmediate(resolve))
    }
  })()
  const res = await app.inject(url)
  storming.on = false
  await storm
  t.equal(res.statusCode, 200)
  t.equal(res.headers.etag, undefined, 'no ETag: the body may mix two versions')
  t.equal(res.json().length, 200_000)
  const calm = await app.inject(url)
  t.type(calm.headers.etag, 'string', 'once the plays stop, the version is known again')
})

t.test('overlay=degradation wraps the waveform with the wear of the same version', async t => {
  const { app, play } = await setup(t, { frames: 12_000, channels: 2 }, { DEGRADATION_RATE: 10 })
  await play(2)
  await play(2)
  await play(0)
  const res = await app.inject(`/peaks/${NAME}?samples_per_pixel=1000&overlay=degradation`)
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body), ['waveform', 'degradation'])
  t.same(Object.keys(body.waveform), ['version', 'channels', 'sample_rate', 'samples_per_pixel', 'bits', 'length', 'data'], 'the waveform inside stays strict audiowaveform')
  const stats = (await app.inject(`/stats/${NAME}`)).json()
  t.same(body.degradation, {
    segment_duration: 0.5,
    segment_frames: 4000,
    total_segments: 3,
    segment_play_counts: stats.segment_play_counts,
    segment_degradation: stats.segment_degradation,
    overall_degradation: stats.overall_degradation,
    total_plays: 3
  })
  t.same(body.degradation.segment_degradation, [10, 0, 20])
  t.match(res.headers.etag, /-3-1000-8md"$/)
  const plain = await app.inject(`/peaks/${NAME}?samples_per_pixel=1000`)
  t.same(plain.json(), body.waveform, 'the same waveform as without the overlay')
})

t.test('HEAD /peaks answers the headers only', async t => {
  const { app } = await setup(t)
  const res = await app.inject({ method: 'HEAD', url: `/peaks/${NAME}` })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '')
  t.type(res.headers.etag, 'string')
})

t.test('bad requests are refused in the one error shape', async t => {
  const { app } = await setup(t, { frames: 200_000, channels: 6, sampleRate: 8000 })
  const cases: Array<[string, number, RegExp]> = [
    ['?samples_per_pixel=1', 400, /samples_per_pixel/],
    ['?samples_per_pixel=abc', 400, /samples_per_pixel/],
    ['?bits=12', 400, /bits/],
    ['?channels=left', 400, /channels/],
    ['?overlay=yes', 400, /overlay/],
    ['?zoom=2', 400, /additional properties/],
    ['?samples_per_pixel=512&pixels_per_second=10', 400, /not both/],
    ['?pixels_per_second=4001', 400, /at most 4000/],
    ['?samples_per_pixel=2&channels=split', 400, /samples_per_pixel 3 or more/]
  ]
  for (const [query, status, message] of cases) {
    const res = await app.inject(`/peaks/${NAME}${query}`)
    t.equal(res.statusCode, status, query)
    t.match(res.json(), { statusCode: status, error: 'Bad Request', message }, query)
  }
  t.equal((await app.inject(`/peaks/${NAME}?samples_per_pixel=3&channels=split`)).statusCode, 200, 'just within the limit')
  const missing = await app.inject('/peaks/nope.wav')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'EA_TRACK_NOT_FOUND')
  t.equal((await app.inject('/peaks/notes.txt')).statusCode, 400)
})

t.test('a track whose file vanished is 404, not a server error', async t => {
  const { app, wav } = await setup(t)
  const { rm } = await import('node:fs/promises')
  await rm(wav.path)
  const res = await app.inject(`/peaks/${NAME}`)
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'EA_TRACK_NOT_FOUND')
})

t.test('integer query parameters written with a fraction or an exponent are refused, not truncated', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'q.wav': {} } })
  for (const query of ['samples_per_pixel=2.5', 'samples_per_pixel=1e3', 'pixels_per_second=10x', 'pixels_per_second=0x10']) {
    const res = await app.inject(`/peaks/q.wav?${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json().message, /must be integer/)
  }
  t.equal((await app.inject('/peaks/q.wav?samples_per_pixel=256')).statusCode, 200, 'a plain integer is fine')
})
