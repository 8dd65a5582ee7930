import t from 'tap'
import { noise } from '../../../lib/engines/noise.js'
import { tape } from '../../../lib/engines/tape.js'
import { wow } from '../../../lib/engines/wow.js'
import { worn } from '../../../lib/engines/worn.js'
import { contractChecks, maxAbsDifference, renderSpan } from './engine-checks.js'

contractChecks(t, worn, '3c9ed622f67420329dfb5165a30066afdc53f0411011ec1fa557b6cb2ca8da6e')

t.test('worn is the weighted mix of tape, wow and noise at the same wear', async t => {
  const span = { sampleRate: 44100, channels: 2, start: 44100 * 3, length: 4410, wear: 0.4 }
  const mix = renderSpan(worn, worn.defaults, span).out
  const parts = [[tape, 0.5], [wow, 0.3], [noise, 0.2]] as const
  const expected = mix.map(plane => new Float64Array(plane.length))
  for (const [engine, weight] of parts) {
    const out = renderSpan(engine as never, engine.defaults as never, span).out
    out.forEach((plane, c) => plane.forEach((v, i) => { expected[c]![i]! += weight * v }))
  }
  t.ok(maxAbsDifference(mix, expected) < 1e-12)
  const tapeOnly = renderSpan(worn, { tape: 1, wow: 0, noise: 0 }, span).out
  t.ok(maxAbsDifference(tapeOnly, renderSpan(tape, tape.defaults, span).out) < 1e-12, 'one weight alone is that engine')
})
