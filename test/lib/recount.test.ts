import t from 'tap'
import { playsForSilencedFrames, silencedFrames, silencedShare } from '../../lib/dropout.js'
import { newlySilentFrameCount } from '../../lib/pcm.js'
import type { WavFormat } from '../../lib/wav-format.js'

t.test('playsForSilencedFrames inverts the model wherever the segment is not yet fully silent', async t => {
  for (const rate of [0.5, 1, 2.5, 7, 10]) {
    for (const frames of [1, 37, 4000, 22050]) {
      for (let n = 0; n * rate < 100; n++) {
        const silent = silencedFrames(frames, silencedShare(n, rate))
        const recovered = playsForSilencedFrames(silent, frames, rate)
        // Several counts can round to the same frame count on tiny segments: the fewest is returned, and it renders the same.
        t.equal(silencedFrames(frames, silencedShare(recovered, rate)), silent, `r${rate} f${frames} n${n} s${silent} got${recovered}`)
        t.ok(recovered <= n, 'never more plays than there were')
        if (frames >= 4000) t.equal(recovered, n, `rate ${rate}, ${frames} frames, ${n} plays`)
      }
    }
  }
  t.equal(playsForSilencedFrames(100, 100, 1), 100, 'fully silent: the fewest plays that silence it all')
  t.equal(playsForSilencedFrames(0, 100, 1), 0)
  t.equal(playsForSilencedFrames(50, 100, 0), 0, 'a rate of 0 never silences anything')
})

t.test('newlySilentFrameCount counts frames silent now that were not before, in every channel', async t => {
  const format: WavFormat = { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate: 8000, blockAlign: 4 }
  const original = Buffer.from([1, 0, 1, 0, 0, 0, 0, 0, 2, 0, 2, 0, 3, 0, 3, 0])
  const current = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
  t.equal(newlySilentFrameCount(current, original, format), 2, 'frames 0 and 3; frame 1 was already silent, frame 2 is silent in one channel only')
  t.throws(() => newlySilentFrameCount(current, original.subarray(4), format), RangeError)
})
