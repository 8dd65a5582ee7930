import { Type, type Static } from 'typebox'
import type { DecayEngine, EngineInput, EngineParams } from './engine.js'
import { noise } from './noise.js'
import { tape } from './tape.js'
import { wow } from './wow.js'

/**
 * Worn: a tape that has been played too often. The weighted mix of three
 * engines' renderings at the same wear: the top end going (tape), the pitch
 * wavering (wow) and the hiss and crackle rising (noise). Each part is
 * position-independent and silent at full wear, so the mix is too; fidelity
 * and dissolve are left out to keep a play within its render budget.
 */
export const WornParamsSchema = Type.Object({
  tape: Type.Number({ default: 0.5, minimum: 0, maximum: 1, description: 'Weight of the tape engine\'s rendering (the weights are normalised to sum to 1)' }),
  wow: Type.Number({ default: 0.3, minimum: 0, maximum: 1, description: 'Weight of the wow engine\'s rendering' }),
  noise: Type.Number({ default: 0.2, minimum: 0, maximum: 1, description: 'Weight of the noise engine\'s rendering' })
})
export type WornParams = Static<typeof WornParamsSchema>

const PARTS = [tape, wow, noise] as unknown as Array<DecayEngine<EngineParams>>
const KEYS = ['tape', 'wow', 'noise'] as const

function weightsOf (params: WornParams): number[] {
  const raw = KEYS.map(k => params[k])
  const sum = raw.reduce((a, b) => a + b, 0)
  // All weights at zero: an equal mix rather than a division by zero.
  return sum > 0 ? raw.map(w => w / sum) : raw.map(() => 1 / raw.length)
}

function render (input: EngineInput, params: WornParams, out: Float64Array[]): void {
  const weights = weightsOf(params)
  for (const plane of out) plane.fill(0)
  const scratch = out.map(plane => new Float64Array(plane.length))
  PARTS.forEach((part, p) => {
    const weight = weights[p] as number
    if (weight === 0) return
    // Each part gets exactly the context it asks for, so its output is the one it gives alone.
    const own = Math.min(input.preroll, part.preroll(input.sampleRate, part.defaults))
    const channels = input.channels.map(c => c.subarray(input.preroll - own))
    part.render({ ...input, channels, preroll: own }, part.defaults, scratch)
    for (let c = 0; c < out.length; c++) {
      const o = out[c] as Float64Array
      const s = scratch[c] as Float64Array
      for (let i = 0; i < o.length; i++) o[i] = (o[i] as number) + weight * (s[i] as number)
    }
  })
}

export const worn: DecayEngine<WornParams> = {
  id: 'worn',
  name: 'Worn',
  description: 'A tape played too often: the top end dulls, the pitch wavers and hiss and crackle rise together, then it fades away.',
  version: 1,
  params: WornParamsSchema,
  defaults: { tape: 0.5, wow: 0.3, noise: 0.2 },
  measure: 'the energy of the difference from the pristine audio, relative to the pristine energy (the weighted parts\' own measures all rise with it)',
  preroll: sampleRate => Math.max(...PARTS.map(part => part.preroll(sampleRate, part.defaults))),
  render
}
