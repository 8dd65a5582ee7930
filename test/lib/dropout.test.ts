import t from 'tap'
import { dropoutGains, dropoutMask, silencedFrames, silencedShare, type DropoutParams } from '../../lib/dropout.js'

const base: DropoutParams = { seed: 'track-a', segmentIndex: 0, frameCount: 22050, sampleRate: 44100, share: 0 }

/** tap's deep comparison is far too slow for arrays of 22,050 frames. */
function sameBytes (a: Uint8Array | Float32Array, b: Uint8Array | Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

function ones (mask: Uint8Array): number {
  let n = 0
  for (const v of mask) n += v
  return n
}

function silentRuns (mask: Uint8Array): number[] {
  const lengths: number[] = []
  let run = 0
  for (const v of mask) {
    if (v === 1) run++
    else if (run > 0) {
      lengths.push(run)
      run = 0
    }
  }
  if (run > 0) lengths.push(run)
  return lengths
}

/** Distance from frame i to the nearest silenced frame, looking no further than limit. */
function distanceToSilence (mask: Uint8Array, i: number, limit: number): number {
  for (let d = 0; d <= limit; d++) {
    if (mask[i - d] === 1 || mask[i + d] === 1) return d
  }
  return Infinity
}

t.test('silencedShare is plays × rate / 100, clamped to 0..1', async t => {
  const cases: Array<[number, number, number]> = [
    [0, 1, 0], [1, 1, 0.01], [33, 2.5, 0.825], [99, 1, 0.99], [100, 1, 1],
    [150, 1, 1], [50, 2, 1], [11, 10, 1], [3, 0.5, 0.015], [-4, 1, 0]
  ]
  for (const [plays, rate, share] of cases) t.equal(silencedShare(plays, rate), share, `${plays} plays at ${rate}%`)
})

t.test('silencedFrames rounds share × frames and stays within the segment', async t => {
  const cases: Array<[number, number, number]> = [
    [22050, 0.5, 11025], [22050, 0, 0], [22050, 1, 22050], [22050, 0.01, 221], [3, 0.33, 1],
    [1, 0.5, 1], [1, 0.49, 0], [10, 1.5, 10], [10, -0.2, 0], [0, 0.7, 0]
  ]
  for (const [frames, share, expected] of cases) t.equal(silencedFrames(frames, share), expected, `${share} of ${frames}`)
})

t.test('the mask silences exactly the expected number of frames', async t => {
  t.equal(ones(dropoutMask({ ...base, share: silencedShare(50, 1) })), 11025)
  const shapes = [
    { frameCount: 22050, sampleRate: 44100 },
    { frameCount: 24000, sampleRate: 48000 },
    { frameCount: 7001, sampleRate: 44100 }, // a short last segment
    { frameCount: 37, sampleRate: 44100 }, // shorter than one grain
    { frameCount: 1, sampleRate: 8000 }
  ]
  for (const shape of shapes) {
    for (const rate of [0.5, 1, 2.5, 10]) {
      for (const plays of [0, 1, 2, 5, 33, 50, 99, 100, 150]) {
        const share = silencedShare(plays, rate)
        const mask = dropoutMask({ ...base, ...shape, segmentIndex: plays % 7, share })
        t.equal(mask.length, shape.frameCount)
        const expected = Math.round(Math.min(1, plays * rate / 100) * shape.frameCount)
        if (ones(mask) !== expected) t.fail(`${plays} plays at ${rate}% on ${shape.frameCount} frames: ${ones(mask)} ≠ ${expected}`)
      }
    }
  }
  t.equal(dropoutMask({ ...base, frameCount: 0, share: 0.5 }).length, 0)
})

t.test('what is silent after n plays stays silent after n + 1', async t => {
  const cases = [
    { segmentIndex: 0, frameCount: 22050, sampleRate: 44100 },
    { segmentIndex: 3, frameCount: 22050, sampleRate: 44100 },
    { segmentIndex: 41, frameCount: 24000, sampleRate: 48000 },
    { segmentIndex: 12, frameCount: 4999, sampleRate: 44100 }
  ]
  for (const c of cases) {
    let previous = dropoutMask({ ...base, ...c, share: 0 })
    for (let plays = 1; plays <= 100; plays++) {
      const mask = dropoutMask({ ...base, ...c, share: silencedShare(plays, 1) })
      const lost = previous.findIndex((v, i) => v === 1 && mask[i] === 0)
      if (lost !== -1) t.fail(`segment ${c.segmentIndex}: frame ${lost} came back at play ${plays}`)
      previous = mask
    }
    t.equal(ones(previous), c.frameCount, `segment ${c.segmentIndex} is silent after 100 plays`)
  }
})

t.test('the pattern is deterministic and differs between segments and tracks', async t => {
  const p = { ...base, segmentIndex: 5, share: 0.3 }
  t.ok(sameBytes(dropoutMask(p), dropoutMask({ ...p })), 'same mask twice')
  t.ok(sameBytes(dropoutGains(p), dropoutGains({ ...p })), 'same gains twice')
  t.notOk(sameBytes(dropoutMask(p), dropoutMask({ ...p, segmentIndex: 6 })), 'another segment wears differently')
  t.notOk(sameBytes(dropoutMask(p), dropoutMask({ ...p, seed: 'track-b' })), 'another track wears differently')
})

t.test('silence falls in grains of milliseconds, not single samples', async t => {
  const twoMs = 0.002 * base.sampleRate
  for (const share of [0.01, 0.05, 0.1, 0.3, 0.5, 0.77]) {
    for (const segmentIndex of [0, 1, 2, 3]) {
      const runs = silentRuns(dropoutMask({ ...base, segmentIndex, share }))
      const short = runs.filter(length => length < twoMs)
      t.ok(short.length <= 1, `share ${share}, segment ${segmentIndex}: at most the partial grain is shorter than 2 ms (${short.join(',')})`)
    }
  }
  const spread = silentRuns(dropoutMask({ ...base, share: 0.5 }))
  t.ok(spread.length >= 5, `half a segment is silenced in several gaps, not one block (${spread.length})`)
  const grains = silentRuns(dropoutMask({ ...base, share: 0.1 }))
  t.ok(new Set(grains).size >= 3, `grain lengths vary (${grains.join(',')})`)
  t.ok(Math.max(...grains) <= 0.1 * base.frameCount, 'a tenth of a segment is not one single gap')
})

t.test('frame by frame, a gap shorter than one grain is alone and sits between whole audible grains', async t => {
  // Sweep every silenced count on short 8 kHz segments, where a grain is 32–200 frames.
  const minGrain = 32
  let problem = ''
  for (let segmentIndex = 0; segmentIndex < 40 && problem === ''; segmentIndex++) {
    const frameCount = 800 + segmentIndex
    for (let count = 0; count <= frameCount && problem === ''; count++) {
      const mask = dropoutMask({ ...base, segmentIndex, frameCount, sampleRate: 8000, share: count / frameCount })
      let short = 0
      for (let start = 0; start < frameCount;) {
        let end = start
        while (end < frameCount && mask[end] === mask[start]) end++
        if (mask[start] === 1 && end - start < minGrain) {
          short++
          const before = mask.lastIndexOf(1, start - 1)
          const after = mask.indexOf(1, end)
          const roomBefore = start === 0 || start - before - 1 >= minGrain
          const roomAfter = end === frameCount || after === -1 || after - end >= minGrain
          if (!roomBefore || !roomAfter) problem = `segment ${segmentIndex}, ${count} silenced: short gap [${start}, ${end}) crowds another gap`
        }
        start = end
      }
      if (short > 1) problem = `segment ${segmentIndex}, ${count} silenced: ${short} gaps shorter than a grain`
    }
  }
  t.equal(problem, '')
})

t.test('gains are zero on the mask and ramp only on the audible frames beside it', async t => {
  const cases = [
    { share: 0.02, fadeMs: 2, sampleRate: 44100, frameCount: 22050 },
    { share: 0.37, fadeMs: 2, sampleRate: 44100, frameCount: 22050 },
    { share: 0.81, fadeMs: 5, sampleRate: 48000, frameCount: 24000 },
    { share: 0.5, fadeMs: 1, sampleRate: 8000, frameCount: 1333 },
    // Ramps longer than the audible gaps between grains, so neighbouring ramps overlap.
    { share: 0.45, fadeMs: 20, sampleRate: 44100, frameCount: 22050 }
  ]
  for (const c of cases) {
    const p = { ...base, ...c, segmentIndex: 9 }
    const mask = dropoutMask(p)
    const gains = dropoutGains(p, c.fadeMs)
    const rampLength = Math.round(c.fadeMs * c.sampleRate / 1000)
    t.equal(gains.length, c.frameCount)
    let ramped = 0
    let mismatch = ''
    for (let i = 0; i < gains.length && mismatch === ''; i++) {
      const g = gains[i] as number
      const d = distanceToSilence(mask, i, rampLength)
      if (mask[i] === 1) {
        if (g !== 0) mismatch = `silenced frame ${i} has gain ${g}`
        continue
      }
      if (d > rampLength) {
        if (g !== 1) mismatch = `frame ${i}, far from silence, has gain ${g}`
        continue
      }
      ramped++
      const expected = 0.5 - 0.5 * Math.cos(Math.PI * d / (rampLength + 1))
      if (!(g > 0 && g < 1) || Math.abs(g - expected) > 1e-6) mismatch = `ramp frame ${i} at distance ${d} has gain ${g}, expected ${expected}`
    }
    t.equal(mismatch, '', `share ${c.share}, ${c.fadeMs} ms fades`)
    t.ok(ramped > 0, 'there are ramps')
  }
})

t.test('gains next to a gap start near zero and rise to one', async t => {
  const p = { ...base, segmentIndex: 2, share: 0.2 }
  const mask = dropoutMask(p)
  const gains = dropoutGains(p)
  const gapEnd = mask.findIndex((v, i) => v === 1 && mask[i + 1] === 0 && distanceToSilence(mask.subarray(i + 1), 0, 200) > 200)
  t.ok(gapEnd > 0, 'found a gap followed by a long audible stretch')
  const after = Array.from(gains.subarray(gapEnd + 1, gapEnd + 1 + 89))
  t.ok((after[0] as number) < 0.001, 'the first audible frame is almost silent')
  t.ok(after.every((g, i) => i === 0 || g > (after[i - 1] as number)), 'the ramp rises steadily')
  t.equal(gains[gapEnd + 1 + 88], 1, '2 ms later the gain is 1')
})

t.test('gains at the extremes', async t => {
  t.ok(sameBytes(dropoutGains({ ...base, share: 0 }), new Float32Array(base.frameCount).fill(1)), 'share 0: all ones')
  t.ok(sameBytes(dropoutGains({ ...base, share: 1 }), new Float32Array(base.frameCount)), 'share 1: all zeros')
  t.ok(sameBytes(dropoutGains({ ...base, share: 1.4 }), new Float32Array(base.frameCount)), 'share above 1: all zeros')
  t.equal(dropoutGains({ ...base, frameCount: 0, share: 0.5 }).length, 0)
  const p = { ...base, share: 0.4 }
  const mask = dropoutMask(p)
  t.ok(sameBytes(dropoutGains(p, 0), Float32Array.from(mask, v => 1 - v)), 'no fade: gains are the inverse of the mask')
})

t.test('invalid parameters are rejected', async t => {
  t.throws(() => dropoutMask({ ...base, frameCount: -1 }), RangeError)
  t.throws(() => dropoutMask({ ...base, frameCount: 2.5 }), RangeError)
  t.throws(() => dropoutMask({ ...base, sampleRate: 0 }), RangeError)
  t.throws(() => dropoutGains({ ...base, sampleRate: Infinity }), RangeError)
  t.throws(() => dropoutGains({ ...base, share: Number.NaN }), RangeError)
})
