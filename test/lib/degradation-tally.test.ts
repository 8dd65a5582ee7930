import t from 'tap'
import { DegradationTally } from '../../lib/degradation-tally.js'
import { silencedShare } from '../../lib/dropout.js'
import { overallDegradation } from '../../lib/track-figures.js'

/** The figure by its definition: the mean of every segment's silenced share. */
function meanShare (counts: number[], rate: number): number {
  let sum = 0
  for (const n of counts) sum += silencedShare(n, rate)
  return sum / counts.length * 100
}

t.test('updated play by play, the tally gives exactly what overallDegradation computes from the counts', async t => {
  for (const rate of [1, 0.7, 2.5, 10, 100]) {
    const counts = new Array<number>(7200).fill(0)
    const tally = new DegradationTally(counts, rate)
    let seed = 12345
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
    let mismatches = 0
    for (let play = 0; play < 20000; play++) {
      // Most plays on a few segments, so some of them saturate.
      const index = random() < 0.5 ? Math.floor(random() * 20) : Math.floor(random() * counts.length)
      const before = counts[index] as number
      counts[index] = before + 1
      tally.update(before, before + 1)
      if (play % 997 === 0 && tally.overall(counts.length) !== overallDegradation(counts, rate)) mismatches++
    }
    t.equal(mismatches, 0, `rate ${rate} %`)
    t.equal(tally.overall(counts.length), overallDegradation(counts, rate))
    t.ok(Math.abs(tally.overall(counts.length) - meanShare(counts, rate)) < 1e-4, 'the mean silenced share, to the reported precision')
  }
})

t.test('small cases give the figures the API has always reported', async t => {
  t.equal(overallDegradation([0, 1], 10), 5)
  t.equal(overallDegradation([], 1), 0)
  t.equal(overallDegradation([0, 0, 0], 1), 0)
  t.equal(overallDegradation([100, 250, 0, 50], 1), 62.5)
  t.equal(overallDegradation([3, 1, 0], 1), 1.3333)
  t.equal(overallDegradation([5, 5], 0), 0)
  const tally = new DegradationTally([0, 0], 50)
  tally.update(0, 1)
  tally.update(0, 2)
  t.equal(tally.overall(2), 75)
  tally.update(2, 3)
  t.equal(tally.overall(2), 75, 'a segment past full silence adds nothing')
})
