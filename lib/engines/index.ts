import { Type } from 'typebox'
import { Value } from 'typebox/value'
import type { DecayEngine, EngineParams } from './engine.js'
import { wow } from './wow.js'
import { tape } from './tape.js'
import { fidelity } from './fidelity.js'
import { noise } from './noise.js'
import { worn } from './worn.js'
import { dissolve } from './dissolve.js'

/** What the API says of an engine; `dropout` has no float renderer (lib/render.ts works on its bytes). */
export type EngineInfo = Pick<DecayEngine, 'id' | 'name' | 'description' | 'version' | 'params' | 'defaults' | 'measure'>

/** Today's engine, unchanged: existing tracks render byte for byte as before. */
export const dropout: EngineInfo = {
  id: 'dropout',
  name: 'Dropout',
  description: 'Grains of the segment drop out to silence, more with every play, each with a 2 ms fade; the share silenced is exactly the wear.',
  version: 1,
  params: Type.Object({}, { additionalProperties: false }),
  defaults: {},
  measure: 'the share of the segment silenced, exactly the wear'
}

// Parameters reach an engine only through resolveParams, checked against its own schema: widening its type here is safe.
const RENDERED = [tape, wow, fidelity, noise, dissolve, worn] as unknown as DecayEngine[]

/** The engines with a float renderer, by id. */
export const ENGINES: ReadonlyMap<string, DecayEngine> = new Map(RENDERED.map(e => [e.id, e]))

/** Every engine, in the order the API lists them. */
export const ENGINE_INFOS: readonly EngineInfo[] = [dropout, ...RENDERED]
export const ENGINE_IDS = ENGINE_INFOS.map(e => e.id)
export const DEFAULT_ENGINE = 'dropout'

export function engineInfo (id: string): EngineInfo | undefined {
  return ENGINE_INFOS.find(e => e.id === id)
}

/**
 * An engine's parameters as given, over its defaults; throws a RangeError in
 * words for an unknown parameter or a value out of bounds.
 */
export function resolveParams (info: EngineInfo, given: Record<string, unknown> = {}): EngineParams {
  const params = { ...info.defaults, ...given }
  for (const key of Object.keys(given)) {
    // Own properties only: `constructor` or `__proto__` are no parameter of any engine.
    if (!Object.hasOwn(info.params.properties, key)) {
      const known = Object.keys(info.params.properties)
      throw new RangeError(`${info.id} has no parameter ${key}${known.length > 0 ? `; its parameters are ${known.join(', ')}` : '; it takes none'}`)
    }
  }
  const error = Value.Errors(info.params, params)[0]
  if (error !== undefined) throw new RangeError(`${info.id}'s ${error.instancePath.slice(1) || 'parameters'} ${error.message}`)
  return params as EngineParams
}
