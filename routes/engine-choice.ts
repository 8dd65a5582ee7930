import { ENGINE_IDS, engineInfo, resolveParams } from '../lib/engines/index.js'
import { TrackError } from '../lib/track-error.js'

export interface EngineChoice { id: string, params: Record<string, number> }

/**
 * An engine and its parameters as a request names them, checked: an unknown
 * engine, an unknown parameter or a value out of bounds is a 400 saying so.
 * `given` holds the parameters (numbers, or decimal strings from a query).
 */
export function engineChoice (id: string, given: Record<string, unknown> = {}): EngineChoice {
  const info = engineInfo(id)
  if (info === undefined) throw new TrackError(400, 'EA_BAD_ENGINE', `There is no decay engine "${id}"; the engines are ${ENGINE_IDS.join(', ')}`)
  const numbers: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(given)) {
    numbers[key] = typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value
  }
  try {
    return { id, params: resolveParams(info, numbers) }
  } catch (err) {
    throw new TrackError(400, 'EA_BAD_ENGINE', (err as Error).message)
  }
}

/**
 * The engine a query string names (`engine=`) with its parameters under
 * their own names; other keys are not the engine's and are ignored. Without
 * `engine=`, the fallback's engine, its parameters overridden by those given.
 */
export function engineFromQuery (query: Record<string, unknown>, fallback?: EngineChoice): EngineChoice | undefined {
  const id = typeof query.engine === 'string' ? query.engine : fallback?.id
  if (id === undefined) return undefined
  const info = engineInfo(id)
  const given = Object.fromEntries(Object.entries(query).filter(([key]) => info !== undefined && Object.hasOwn(info.params.properties, key)))
  return engineChoice(id, id === fallback?.id ? { ...fallback.params, ...given } : given)
}
