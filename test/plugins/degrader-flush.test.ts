import t from 'tap'
import { buildTestApp, type TapTest } from '../helper.js'

// 64-bit float stereo at 8 kHz: 128 KB a second, 64 KB segments, so a 16 MB track stays quick to generate.
const FORMAT = { encoding: 'float' as const, bitsPerSample: 64, channels: 2, sampleRate: 8000 }
const SEGMENT_BYTES = 4000 * 16

async function playDistinctSegments (t: TapTest, seconds: number, plays: number) {
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': { ...FORMAT, frames: seconds * 8000 } }, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (let segment = 0; segment < plays; segment++) {
    const res = await app.inject({ method: 'POST', url: '/degrade/a.wav', payload: { segment_index: segment } })
    t.equal(res.statusCode, 200)
  }
  await app.degrader.checkpoint()
  return app.degrader.stats.earlyFlushes
}

t.test('a long track is written back in small steps as plays accumulate, not all at the checkpoint', async t => {
  // 140 s (17.9 MB): 4 MB of played segments is well under a quarter of it.
  const plays = Math.ceil(4 * 1024 * 1024 / SEGMENT_BYTES) * 2
  const flushes = await playDistinctSegments(t, 140, plays)
  t.equal(flushes, 2, 'one write-back per 4 MB of played segments')
})

t.test('a short track is left to the checkpoint: its segments are played again before long', async t => {
  // 40 s (5.1 MB): 4 MB would be most of it.
  const flushes = await playDistinctSegments(t, 40, 70)
  t.equal(flushes, 0)
})
