/**
 * Preconditions for GET and HEAD of a file (RFC 9110 §13). The audio on disk
 * changes as it is played, so these decide whether a client's cached copy or
 * half-downloaded range still belongs to the bytes we have now.
 */

export interface Validators {
  /** Strong and quoted, e.g. `"a1b2-3"`. */
  etag: string
  lastModified: Date
}

export interface ConditionalHeaders {
  ifMatch?: string | undefined
  ifNoneMatch?: string | undefined
  ifModifiedSince?: string | undefined
  ifUnmodifiedSince?: string | undefined
  ifRange?: string | undefined
}

export type Precondition = 'proceed' | 'not-modified' | 'precondition-failed'

interface EntityTag { weak: boolean, opaque: string }

const ETAG = /^(W\/)?"([\x21\x23-\x7E\x80-\xFF]*)"$/
const ETAGC = /^[\x21\x23-\x7E\x80-\xFF]*$/
const OWS = /^[ \t]+|[ \t]+$/g

/** The order of §13.2.2: If-Match, else If-Unmodified-Since; then If-None-Match, else If-Modified-Since. */
export function evaluatePreconditions (h: ConditionalHeaders, v: Validators): Precondition {
  const current = ownTag(v.etag)
  const modified = wholeSeconds(v.lastModified)

  const ifMatch = fieldValue(h.ifMatch)
  if (ifMatch !== undefined) {
    if (!listMatches(ifMatch, (tag) => strongMatch(tag, current))) return 'precondition-failed'
  } else {
    const since = parseHttpDate(fieldValue(h.ifUnmodifiedSince))
    if (since !== undefined && modified > since) return 'precondition-failed'
  }

  // Even an unparsable If-None-Match overrides If-Modified-Since (§13.1.3).
  const ifNoneMatch = fieldValue(h.ifNoneMatch)
  if (ifNoneMatch !== undefined) {
    if (listMatches(ifNoneMatch, (tag) => tag.opaque === current.opaque)) return 'not-modified'
  } else {
    const since = parseHttpDate(fieldValue(h.ifModifiedSince))
    if (since !== undefined && modified <= since) return 'not-modified'
  }
  return 'proceed'
}

/** False means the client's partial copy is stale: answer 200 with the whole file, not the range. */
export function rangeIsStillValid (ifRange: string | undefined, v: Validators): boolean {
  const value = fieldValue(ifRange)
  if (value === undefined) return true
  // §13.1.5: a DQUOTE in the first three characters means an entity-tag, not a date.
  if (value.slice(0, 3).includes('"')) {
    const tag = parseEntityTag(value)
    return tag !== undefined && strongMatch(tag, ownTag(v.etag))
  }
  const date = parseHttpDate(value)
  return date !== undefined && date === wholeSeconds(v.lastModified)
}

/** IMF-fixdate, the only form we send. */
export function httpDate (d: Date): string {
  return d.toUTCString()
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MONTH = `(?<month>${MONTHS.join('|')})`
const DAY_NAME = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAY_NAME = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const TIME = '(?<hour>\\d{2}):(?<minute>\\d{2}):(?<second>\\d{2})'
const IMF_FIXDATE = new RegExp(`^${DAY_NAME}, (?<day>\\d{2}) ${MONTH} (?<year>\\d{4}) ${TIME} GMT$`)
const RFC850_DATE = new RegExp(`^${LONG_DAY_NAME}, (?<day>\\d{2})-${MONTH}-(?<year>\\d{2}) ${TIME} GMT$`)
const ASCTIME_DATE = new RegExp(`^${DAY_NAME} ${MONTH} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`)

/**
 * Milliseconds since the epoch for the three HTTP-date forms recipients must
 * accept (§5.6.7), else undefined. Date.parse is not used because it reads
 * '1' or '2020' as dates, and a junk validator must be ignored, not trusted.
 */
export function parseHttpDate (value: string | undefined, now = new Date()): number | undefined {
  if (value === undefined) return undefined
  const groups = (IMF_FIXDATE.exec(value) ?? RFC850_DATE.exec(value) ?? ASCTIME_DATE.exec(value))?.groups
  if (groups === undefined) return undefined
  const { day = '', month = '', year = '', hour = '', minute = '', second = '' } = groups
  const fullYear = year.length === 2 ? nearestYear(Number(year), now) : Number(year)
  return utc(fullYear, MONTHS.indexOf(month), Number(day), Number(hour), Number(minute), Number(second))
}

/** §5.6.7: a two-digit year more than 50 years ahead belongs to the previous century. */
function nearestYear (yy: number, now: Date): number {
  const current = now.getUTCFullYear()
  const year = current - (current % 100) + yy
  return year > current + 50 ? year - 100 : year
}

function utc (year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  // 60 is a leap second, which the epoch count folds into the next minute.
  if (hour > 23 || minute > 59 || second > 60) return undefined
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as written.
  date.setUTCFullYear(year, month, day)
  // A day the month does not have (31 Feb, 00) rolls into another month.
  if (date.getUTCMonth() !== month) return undefined
  return date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000
}

/** HTTP dates carry whole seconds, so the file's time is compared at that resolution. */
function wholeSeconds (d: Date): number {
  return Math.floor(d.getTime() / 1000) * 1000
}

/** An empty field value is treated as if the header were absent, as `send` and `fresh` do. */
function fieldValue (header: string | undefined): string | undefined {
  const value = header?.replace(OWS, '')
  return value === '' ? undefined : value
}

function ownTag (etag: string): EntityTag {
  const tag = parseEntityTag(etag)
  if (tag === undefined) throw new TypeError(`not an entity-tag: ${etag}`)
  return tag
}

function parseEntityTag (value: string): EntityTag | undefined {
  const m = ETAG.exec(value)
  if (m === null) return undefined
  const [, weak, opaque = ''] = m
  return { weak: weak !== undefined, opaque }
}

function strongMatch (a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque
}

/** `*` matches the file, which exists; a malformed list matches nothing. */
function listMatches (value: string, match: (tag: EntityTag) => boolean): boolean {
  if (value === '*') return true
  return parseEntityTagList(value)?.some(match) ?? false
}

/**
 * A #entity-tag list. Splitting on commas would be wrong: a comma is a legal
 * character inside an opaque-tag.
 */
function parseEntityTagList (value: string): EntityTag[] | undefined {
  const tags: EntityTag[] = []
  let i = 0
  for (;;) {
    i = skip(value, i, ' \t,')
    if (i === value.length) return tags
    const weak = value.startsWith('W/', i)
    const open = weak ? i + 2 : i
    if (value[open] !== '"') return undefined
    const close = value.indexOf('"', open + 1)
    if (close === -1) return undefined
    const opaque = value.slice(open + 1, close)
    if (!ETAGC.test(opaque)) return undefined
    tags.push({ weak, opaque })
    i = skip(value, close + 1, ' \t')
    if (i < value.length && value[i] !== ',') return undefined
  }
}

function skip (value: string, from: number, chars: string): number {
  let i = from
  while (i < value.length && chars.includes(value.charAt(i))) i++
  return i
}
