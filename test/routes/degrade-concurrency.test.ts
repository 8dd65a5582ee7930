import t from 'tap'
import { buildTestApp, listen } from '../helper.js'
import { expectedSegment, readMetadata, readSegment } from '../segment-io.js'

const NAME = 'busy.wav'

async function post (url: string, segment: number) {
  const res = await fetch(`${url}/degrade/${NAME}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment })
  })
  return { status: res.status, body: await res.json() as { play_count: number } }
}

t.test('200 concurrent plays of one segment: count 200 exactly, each count acknowledged once, audio as rendered at 200', async t => {
  const { app, tracks, metadataDir } = await buildTestApp(t, { tracks: { [NAME]: { frames: 8000 } }, env: { DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 0.25 } })
  const url = await listen(app)
  const replies = await Promise.all(Array.from({ length: 200 }, async () => await post(url, 0)))
  t.ok(replies.every(r => r.status === 200), 'all acknowledged')
  t.same(replies.map(r => r.body.play_count).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1))
  const stats = (await app.inject(`/stats/${NAME}`)).json()
  t.same(stats.segment_play_counts, [200, 0])
  const meta = await readMetadata(metadataDir, NAME)
  t.ok((await readSegment(tracks[NAME]!, 0)).equals(expectedSegment(tracks[NAME]!, meta, 0, 200, 0.25)))
})

t.test('200 concurrent plays spread over every segment of two tracks lose nothing', async t => {
  const { app, tracks, metadataDir } = await buildTestApp(t, {
    tracks: { [NAME]: { frames: 8000 * 4, sampleRate: 8000 }, 'other.wav': { frames: 8000 } },
    env: { DEGRADE_RATE_LIMIT: 0 }
  })
  const url = await listen(app)
  const segments = Array.from({ length: 200 }, (_, i) => i % 8)
  const other = Array.from({ length: 50 }, async () => await fetch(`${url}/degrade/other.wav`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"segment_index":1}'
  }))
  const replies = await Promise.all(segments.map(async s => await post(url, s)))
  await Promise.all(other)
  t.ok(replies.every(r => r.status === 200))
  const stats = (await app.inject(`/stats/${NAME}`)).json()
  t.same(stats.segment_play_counts, new Array(8).fill(25))
  t.same((await app.inject('/stats/other.wav')).json().segment_play_counts, [0, 50])
  const meta = await readMetadata(metadataDir, NAME)
  for (let s = 0; s < 8; s++) {
    t.ok((await readSegment(tracks[NAME]!, s)).equals(expectedSegment(tracks[NAME]!, meta, s, 25, 1)), `segment ${s} rendered at 25`)
  }
})
