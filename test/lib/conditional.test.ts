import t from 'tap'
import {
  evaluatePreconditions,
  httpDate,
  parseHttpDate,
  rangeIsStillValid,
  type ConditionalHeaders,
  type Precondition,
  type Validators
} from '../../lib/conditional.js'

// Milliseconds on purpose: HTTP dates drop them, and a naive comparison would not.
const file: Validators = { etag: '"a1b2-3"', lastModified: new Date('2024-03-10T12:34:56.789Z') }
const same = 'Sun, 10 Mar 2024 12:34:56 GMT'
const earlier = 'Sun, 10 Mar 2024 12:34:55 GMT'
const later = 'Sun, 10 Mar 2024 12:34:57 GMT'
const commaTagged: Validators = { ...file, etag: '"a,b"' }

interface PreconditionCase { headers: ConditionalHeaders, validators?: Validators, expected: Precondition }

const preconditions: Record<string, PreconditionCase> = {
  'no conditional headers': { headers: {}, expected: 'proceed' },
  'headers present but undefined': { headers: { ifMatch: undefined, ifNoneMatch: undefined }, expected: 'proceed' },

  'If-Match: current tag': { headers: { ifMatch: '"a1b2-3"' }, expected: 'proceed' },
  'If-Match: other tag': { headers: { ifMatch: '"zz"' }, expected: 'precondition-failed' },
  'If-Match: current tag in a list': { headers: { ifMatch: '"zz", "a1b2-3"' }, expected: 'proceed' },
  'If-Match: star': { headers: { ifMatch: '*' }, expected: 'proceed' },
  'If-Match: weak tag never matches strongly': { headers: { ifMatch: 'W/"a1b2-3"' }, expected: 'precondition-failed' },
  'If-Match: unquoted tag is malformed': { headers: { ifMatch: 'a1b2-3' }, expected: 'precondition-failed' },
  'If-Match: empty value counts as absent': { headers: { ifMatch: ' ' }, expected: 'proceed' },
  'If-Match: matching tag overrides If-Unmodified-Since': { headers: { ifMatch: '"a1b2-3"', ifUnmodifiedSince: earlier }, expected: 'proceed' },
  'If-Match: failure wins over If-None-Match': { headers: { ifMatch: '"zz"', ifNoneMatch: '"a1b2-3"' }, expected: 'precondition-failed' },
  'If-Match and If-None-Match both match': { headers: { ifMatch: '"a1b2-3"', ifNoneMatch: '"a1b2-3"' }, expected: 'not-modified' },

  'If-Unmodified-Since: same second': { headers: { ifUnmodifiedSince: same }, expected: 'proceed' },
  'If-Unmodified-Since: later': { headers: { ifUnmodifiedSince: later }, expected: 'proceed' },
  'If-Unmodified-Since: earlier': { headers: { ifUnmodifiedSince: earlier }, expected: 'precondition-failed' },
  'If-Unmodified-Since: invalid date is ignored': { headers: { ifUnmodifiedSince: 'yesterday' }, expected: 'proceed' },
  'If-Unmodified-Since: a list of dates is ignored': { headers: { ifUnmodifiedSince: `${earlier}, ${earlier}` }, expected: 'proceed' },
  'If-Unmodified-Since: failure wins over If-None-Match': { headers: { ifUnmodifiedSince: earlier, ifNoneMatch: '*' }, expected: 'precondition-failed' },

  'If-None-Match: current tag': { headers: { ifNoneMatch: '"a1b2-3"' }, expected: 'not-modified' },
  'If-None-Match: weak form of the current tag': { headers: { ifNoneMatch: 'W/"a1b2-3"' }, expected: 'not-modified' },
  'If-None-Match: list with a weak match': { headers: { ifNoneMatch: '"zz", W/"a1b2-3"' }, expected: 'not-modified' },
  'If-None-Match: empty list elements': { headers: { ifNoneMatch: ' , "zz" ,, "a1b2-3" ,' }, expected: 'not-modified' },
  'If-None-Match: star': { headers: { ifNoneMatch: '*' }, expected: 'not-modified' },
  'If-None-Match: other tags': { headers: { ifNoneMatch: '"zz", W/"yy"' }, expected: 'proceed' },
  'If-None-Match: different case is a different tag': { headers: { ifNoneMatch: '"A1B2-3"' }, expected: 'proceed' },
  'If-None-Match: overrides If-Modified-Since': { headers: { ifNoneMatch: '"zz"', ifModifiedSince: same }, expected: 'proceed' },
  'If-None-Match: malformed still overrides If-Modified-Since': { headers: { ifNoneMatch: 'garbage', ifModifiedSince: same }, expected: 'proceed' },
  'If-None-Match: empty value counts as absent': { headers: { ifNoneMatch: '', ifModifiedSince: same }, expected: 'not-modified' },
  'If-None-Match: tags without a separator': { headers: { ifNoneMatch: '"zz""a1b2-3"' }, expected: 'proceed' },
  'If-None-Match: trailing junk after a tag': { headers: { ifNoneMatch: '"a1b2-3" x' }, expected: 'proceed' },
  'If-None-Match: unterminated tag': { headers: { ifNoneMatch: '"a1b2-3' }, expected: 'proceed' },
  'If-None-Match: space inside W/': { headers: { ifNoneMatch: 'W/ "a1b2-3"' }, expected: 'proceed' },
  'If-None-Match: control character in a tag': { headers: { ifNoneMatch: '"a1b2-3", "a\u0001"' }, expected: 'proceed' },
  'If-None-Match: star inside a list is malformed': { headers: { ifNoneMatch: '*, "zz"' }, expected: 'proceed' },
  'If-None-Match: comma inside a tag': { headers: { ifNoneMatch: '"zz", "a,b"' }, validators: commaTagged, expected: 'not-modified' },
  'If-None-Match: a tag split at its comma does not match': { headers: { ifNoneMatch: '"a", "b"' }, validators: commaTagged, expected: 'proceed' },

  'If-Modified-Since: same second': { headers: { ifModifiedSince: same }, expected: 'not-modified' },
  'If-Modified-Since: later': { headers: { ifModifiedSince: later }, expected: 'not-modified' },
  'If-Modified-Since: OWS around the date': { headers: { ifModifiedSince: ` ${same}\t` }, expected: 'not-modified' },
  'If-Modified-Since: earlier': { headers: { ifModifiedSince: earlier }, expected: 'proceed' },
  'If-Modified-Since: rfc850 date': { headers: { ifModifiedSince: 'Sunday, 10-Mar-24 12:34:56 GMT' }, expected: 'not-modified' },
  'If-Modified-Since: asctime date': { headers: { ifModifiedSince: 'Sun Mar 10 12:34:56 2024' }, expected: 'not-modified' },
  'If-Modified-Since: invalid date is ignored': { headers: { ifModifiedSince: '2030' }, expected: 'proceed' },
  'If-Modified-Since: ISO 8601 is not an HTTP-date': { headers: { ifModifiedSince: '2030-01-01T00:00:00Z' }, expected: 'proceed' }
}

t.test('evaluatePreconditions follows RFC 9110 §13.2.2', async (t) => {
  for (const [name, { headers, validators = file, expected }] of Object.entries(preconditions)) {
    t.equal(evaluatePreconditions(headers, validators), expected, name)
  }
})

const ifRangeCases: Record<string, { ifRange: string | undefined, validators?: Validators, expected: boolean }> = {
  absent: { ifRange: undefined, expected: true },
  'empty value counts as absent': { ifRange: '', expected: true },
  'current tag': { ifRange: '"a1b2-3"', expected: true },
  'current tag with OWS': { ifRange: ' "a1b2-3" ', expected: true },
  'other tag': { ifRange: '"zz"', expected: false },
  'weak form of the current tag': { ifRange: 'W/"a1b2-3"', expected: false },
  'weak tag against a weak validator': { ifRange: 'W/"a1b2-3"', validators: { ...file, etag: 'W/"a1b2-3"' }, expected: false },
  'a list is not a validator': { ifRange: '"a1b2-3", "zz"', expected: false },
  'unterminated tag': { ifRange: '"a1b2-3', expected: false },
  'exact date': { ifRange: same, expected: true },
  'exact date in rfc850 form': { ifRange: 'Sunday, 10-Mar-24 12:34:56 GMT', expected: true },
  'earlier date': { ifRange: earlier, expected: false },
  'later date is not exact': { ifRange: later, expected: false },
  garbage: { ifRange: 'tomorrow', expected: false },
  'unquoted current tag': { ifRange: 'a1b2-3', expected: false }
}

t.test('rangeIsStillValid', async (t) => {
  for (const [name, { ifRange, validators = file, expected }] of Object.entries(ifRangeCases)) {
    t.equal(rangeIsStillValid(ifRange, validators), expected, name)
  }
})

t.test('a server etag that is not an entity-tag is a bug, not a mismatch', async (t) => {
  const broken = { ...file, etag: 'a1b2-3' }
  t.throws(() => evaluatePreconditions({ ifNoneMatch: '"a1b2-3"' }, broken), TypeError)
  t.throws(() => rangeIsStillValid('"a1b2-3"', broken), TypeError)
})

const sunday = Date.UTC(1994, 10, 6, 8, 49, 37)
const dates: Record<string, { value: string | undefined, expected: number | undefined }> = {
  'IMF-fixdate': { value: 'Sun, 06 Nov 1994 08:49:37 GMT', expected: sunday },
  'rfc850-date': { value: 'Sunday, 06-Nov-94 08:49:37 GMT', expected: sunday },
  'asctime-date, space-padded day': { value: 'Sun Nov  6 08:49:37 1994', expected: sunday },
  'asctime-date, zero-padded day': { value: 'Sun Nov 06 08:49:37 1994', expected: sunday },
  'leap second': { value: 'Sat, 31 Dec 2016 23:59:60 GMT', expected: Date.UTC(2017, 0, 1) },
  'year below 100 is kept': { value: 'Mon, 01 Jan 0001 00:00:00 GMT', expected: Date.parse('0001-01-01T00:00:00Z') },
  '29 February in a leap year': { value: 'Thu, 29 Feb 2024 00:00:00 GMT', expected: Date.UTC(2024, 1, 29) },
  absent: { value: undefined, expected: undefined },
  'a bare number': { value: '1', expected: undefined },
  'a bare year': { value: '2020', expected: undefined },
  'UTC instead of GMT': { value: 'Sun, 06 Nov 1994 08:49:37 UTC', expected: undefined },
  'lower-case day name': { value: 'sun, 06 Nov 1994 08:49:37 GMT', expected: undefined },
  'one-digit day in IMF-fixdate': { value: 'Sun, 6 Nov 1994 08:49:37 GMT', expected: undefined },
  'two-digit year in IMF-fixdate': { value: 'Sun, 06 Nov 94 08:49:37 GMT', expected: undefined },
  'long day name in IMF-fixdate': { value: 'Sunday, 06 Nov 1994 08:49:37 GMT', expected: undefined },
  'unknown month': { value: 'Sun, 06 Foo 1994 08:49:37 GMT', expected: undefined },
  '31 February': { value: 'Sun, 31 Feb 1994 08:49:37 GMT', expected: undefined },
  '29 February in a common year': { value: 'Tue, 29 Feb 2023 00:00:00 GMT', expected: undefined },
  'day zero': { value: 'Sun, 00 Nov 1994 08:49:37 GMT', expected: undefined },
  'day 32': { value: 'Sun, 32 Jan 1994 08:49:37 GMT', expected: undefined },
  'hour 24': { value: 'Sun, 06 Nov 1994 24:00:00 GMT', expected: undefined },
  'minute 60': { value: 'Sun, 06 Nov 1994 08:60:00 GMT', expected: undefined },
  'second 61': { value: 'Sun, 06 Nov 1994 08:49:61 GMT', expected: undefined },
  'surrounding text': { value: 'x Sun, 06 Nov 1994 08:49:37 GMT', expected: undefined }
}

t.test('parseHttpDate accepts the three HTTP-date forms, strictly', async (t) => {
  for (const [name, { value, expected }] of Object.entries(dates)) {
    t.equal(parseHttpDate(value), expected, name)
  }
})

t.test('rfc850 two-digit years resolve to at most 50 years ahead', async (t) => {
  const now = new Date('2025-06-01T00:00:00Z')
  const years: Array<[string, number]> = [['25', 2025], ['75', 2075], ['76', 1976], ['94', 1994], ['00', 2000]]
  for (const [yy, year] of years) {
    t.equal(parseHttpDate(`Monday, 01-Jan-${yy} 00:00:00 GMT`, now), Date.UTC(year, 0, 1), `${yy} → ${year}`)
  }
})

t.test('httpDate writes IMF-fixdate that parses back to the same second', async (t) => {
  t.equal(httpDate(new Date(sunday)), 'Sun, 06 Nov 1994 08:49:37 GMT')
  t.equal(httpDate(file.lastModified), same)
  t.equal(parseHttpDate(httpDate(file.lastModified)), Date.parse('2024-03-10T12:34:56Z'))
})
