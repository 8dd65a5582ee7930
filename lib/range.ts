/**
 * Range header arithmetic (RFC 9110 §14). A header we cannot honour is
 * ignored rather than rejected, so a confused client still gets the whole
 * file with a 200 instead of an error it may not handle.
 */

/** Byte offsets into the file; `end` is inclusive, as in Content-Range. */
export type ByteRange = { start: number, end: number }

export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial', ranges: ByteRange[] }
  | { kind: 'unsatisfiable' }

export interface RangeOptions {
  /** Above this many ranges (after coalescing) the header is ignored. */
  maxRanges?: number
}

// Many tiny ranges are a known amplification trick; 16 is plenty for players.
const DEFAULT_MAX_RANGES = 16

const DIGITS = /^\d+$/
const OWS = /^[ \t]+|[ \t]+$/g

type SpecResult = ByteRange | 'unsatisfiable' | 'malformed'

export function parseRangeHeader (header: string | undefined, size: number, options: RangeOptions = {}): RangeDecision {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid file size: ${size}`)
  if (header === undefined) return { kind: 'full' }

  const value = header.replace(OWS, '')
  const eq = value.indexOf('=')
  if (eq === -1 || value.slice(0, eq).toLowerCase() !== 'bytes') return { kind: 'full' }

  const satisfiable: ByteRange[] = []
  let specs = 0
  for (const element of value.slice(eq + 1).split(',')) {
    const spec = element.replace(OWS, '')
    // The #rule lets senders leave empty list elements; they carry no range.
    if (spec === '') continue
    specs++
    const result = parseSpec(spec, size)
    // One bad spec makes the whole header invalid, so all of it is ignored.
    if (result === 'malformed') return { kind: 'full' }
    if (result !== 'unsatisfiable') satisfiable.push(result)
  }

  if (specs === 0) return { kind: 'full' }
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' }
  const ranges = coalesce(satisfiable)
  if (ranges.length > (options.maxRanges ?? DEFAULT_MAX_RANGES)) return { kind: 'full' }
  return { kind: 'partial', ranges }
}

export function contentRange (range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`
}

export function unsatisfiedRange (size: number): string {
  return `bytes */${size}`
}

function parseSpec (spec: string, size: number): SpecResult {
  const dash = spec.indexOf('-')
  if (dash === -1) return 'malformed'
  const first = spec.slice(0, dash)
  const last = spec.slice(dash + 1)

  if (first === '') {
    const suffix = toInteger(last)
    if (suffix === undefined) return 'malformed'
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }

  const start = toInteger(first)
  if (start === undefined) return 'malformed'
  let end = size - 1
  if (last !== '') {
    const requested = toInteger(last)
    if (requested === undefined || requested < start) return 'malformed'
    end = Math.min(requested, end)
  }
  return start >= size ? 'unsatisfiable' : { start, end }
}

/** Plain digits only: Number() alone would accept '+5', '0x10', '1e3' and ' 7'. */
function toInteger (text: string): number | undefined {
  if (!DIGITS.test(text)) return undefined
  const n = Number(text)
  // Past 2^53 the arithmetic stops being exact, so such a header cannot be trusted.
  return Number.isSafeInteger(n) ? n : undefined
}

/** Merges overlapping and adjacent ranges, so no byte is sent twice and the parts are in file order. */
function coalesce (ranges: ByteRange[]): ByteRange[] {
  const merged: ByteRange[] = []
  for (const range of [...ranges].sort((a, b) => a.start - b.start)) {
    const previous = merged.at(-1)
    if (previous !== undefined && range.start <= previous.end + 1) {
      previous.end = Math.max(previous.end, range.end)
    } else {
      merged.push({ ...range })
    }
  }
  return merged
}
