import t from 'tap'
import { open, readFile } from 'node:fs/promises'
import { buildTestApp, type TapTest } from '../helper.js'
import { segmentSpan, type WavLayout } from '../../lib/wav-format.js'
import { silentFrameCount } from '../../lib/pcm.js'
import { silencedFrames } from '../../lib/dropout.js'

const NAME = 'song.wav'

async function setup (t: TapTest, env: Record<string, string | number | boolean> = {}, wav = { frames: 8000 }) {
  const built = await buildTestApp(t, { tracks: { [NAME]: wav }, env: { DEGRADE_RATE_LIMIT: 0, ...env } })
  const degrade = async (segment: unknown) => await built.app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: segment } })
  return { ...built, degrade }
}

async function readSegment (path: string, layout: WavLayout, segmentDuration: number, index: number) {
  const span = segmentSpan(layout, segmentDuration, index)
  const file = await open(path, 'r')
  try {
    const buf = Buffer.alloc(span.byteLength)
    await file.read(buf, 0, span.byteLength, span.byteOffset)
    return { buf, span }
  } finally {
    await file.close()
  }
}

t.test('a play is counted, reported, and silences exactly its share of the segment', async t => {
  const { app, degrade, tracks } = await setup(t, { DEGRADATION_RATE: 10 })
  const wav = tracks[NAME]!
  const before = await readFile(wav.path)
  const res = await degrade(1)
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(body, { success: true, filename: NAME, segment_index: 1, play_count: 1, segment_degradation: 10, overall_degradation: 5, total_plays: 1 })

  const layout = { format: wav.format, dataOffset: wav.dataOffset, frames: wav.frames, dataSize: wav.frames * wav.format.blockAlign, fileSize: wav.fileSize }
  const { buf, span } = await readSegment(wav.path, layout, 0.5, 1)
  t.equal(silentFrameCount(buf, wav.format), silencedFrames(span.frameCount, 0.1))
  const after = await readFile(wav.path)
  t.same(after.subarray(0, span.byteOffset), before.subarray(0, span.byteOffset), 'bytes before the segment untouched')
  t.same(after.subarray(span.byteOffset + span.byteLength), before.subarray(span.byteOffset + span.byteLength), 'bytes after the segment untouched')

  const stats = (await app.inject(`/stats/${NAME}`)).json()
  t.same(stats.segment_play_counts, [0, 1])
  t.same(stats.segment_degradation, [0, 10])
  t.equal(stats.overall_degradation, 5)
})

const badBodies: Array<[string, unknown]> = [
  ['a missing segment_index', undefined],
  ['a negative index', -1],
  ['a fractional index', 1.5],
  ['a string index', '1'],
  ['an index past the last segment', 2]
]
for (const [name, segment] of badBodies) {
  t.test(`400 for ${name}, and nothing changes on disk`, async t => {
    const { degrade, tracks } = await setup(t)
    const before = await readFile(tracks[NAME]!.path)
    const res = await degrade(segment)
    t.equal(res.statusCode, 400)
    const body = res.json()
    t.equal(body.statusCode, 400)
    t.equal(body.error, 'Bad Request')
    t.type(body.message, 'string')
    t.same(await readFile(tracks[NAME]!.path), before)
  })
}

t.test('a body that is not JSON is refused with the error shape', async t => {
  const { app } = await setup(t)
  const notJson = await app.inject({ method: 'POST', url: `/degrade/${NAME}`, headers: { 'content-type': 'application/json' }, payload: '{"segment_index": ' })
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.json().error, 'Bad Request')
  const text = await app.inject({ method: 'POST', url: `/degrade/${NAME}`, headers: { 'content-type': 'text/plain' }, payload: 'segment 1' })
  t.equal(text.statusCode, 415)
  t.equal(text.json().error, 'Unsupported Media Type')
  const big = await app.inject({ method: 'POST', url: `/degrade/${NAME}`, payload: { segment_index: 0, pad: 'x'.repeat(5000) } })
  t.equal(big.statusCode, 413)
})

t.test('an unknown track is 404', async t => {
  const { app } = await setup(t)
  const res = await app.inject({ method: 'POST', url: '/degrade/nope.wav', payload: { segment_index: 0 } })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'EA_TRACK_NOT_FOUND')
})
