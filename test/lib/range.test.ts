import t from 'tap'
import { contentRange, parseRangeHeader, unsatisfiedRange, type RangeDecision } from '../../lib/range.js'

const full: RangeDecision = { kind: 'full' }
const unsatisfiable: RangeDecision = { kind: 'unsatisfiable' }
const partial = (...pairs: Array<[number, number]>): RangeDecision =>
  ({ kind: 'partial', ranges: pairs.map(([start, end]) => ({ start, end })) })

interface Case { header: string | undefined, size?: number, maxRanges?: number, expected: RangeDecision }

const cases: Record<string, Case> = {
  'no header': { header: undefined, expected: full },
  'empty header': { header: '', expected: full },
  "Chrome's first request": { header: 'bytes=0-', expected: partial([0, 99]) },
  "Safari's probe": { header: 'bytes=0-1', expected: partial([0, 1]) },
  'closed range': { header: 'bytes=10-19', expected: partial([10, 19]) },
  'open-ended range': { header: 'bytes=90-', expected: partial([90, 99]) },
  'last byte': { header: 'bytes=99-99', expected: partial([99, 99]) },
  'suffix of five': { header: 'bytes=-5', expected: partial([95, 99]) },
  'suffix as long as the file': { header: 'bytes=-100', expected: partial([0, 99]) },
  'suffix longer than the file': { header: 'bytes=-500', expected: partial([0, 99]) },
  'end past the file is clipped': { header: 'bytes=90-1000', expected: partial([90, 99]) },
  'unit is case-insensitive': { header: 'Bytes=0-1', expected: partial([0, 1]) },
  'upper-case unit': { header: 'BYTES=0-1', expected: partial([0, 1]) },
  'leading zeros': { header: 'bytes=007-010', expected: partial([7, 10]) },
  'OWS around the field value': { header: ' \tbytes=0-1 ', expected: partial([0, 1]) },
  'OWS around commas': { header: 'bytes=0-1 ,\t5-9', expected: partial([0, 1], [5, 9]) },
  'OWS after the equals sign': { header: 'bytes= 0-1', expected: partial([0, 1]) },
  'two ranges': { header: 'bytes=0-1,5-9', expected: partial([0, 1], [5, 9]) },
  'empty list elements are tolerated': { header: 'bytes=1-2,,5-6,', expected: partial([1, 2], [5, 6]) },
  'leading empty element': { header: 'bytes=,1-2', expected: partial([1, 2]) },

  'ranges are sorted': { header: 'bytes=50-59,0-9', expected: partial([0, 9], [50, 59]) },
  'overlapping ranges merge': { header: 'bytes=0-10,5-20', expected: partial([0, 20]) },
  'touching ranges merge': { header: 'bytes=0-9,10-19', expected: partial([0, 19]) },
  'a gap of one byte is kept': { header: 'bytes=0-9,11-19', expected: partial([0, 9], [11, 19]) },
  'a contained range disappears': { header: 'bytes=0-50,10-20', expected: partial([0, 50]) },
  'duplicates merge': { header: 'bytes=5-6,5-6,5-6', expected: partial([5, 6]) },
  'suffix merges with a closed range': { header: 'bytes=0-9,-95', expected: partial([0, 99]) },
  'unsorted chain merges': { header: 'bytes=20-29,0-9,10-19', expected: partial([0, 29]) },

  'first-pos at the size': { header: 'bytes=100-', expected: unsatisfiable },
  'first-pos past the size': { header: 'bytes=200-300', expected: unsatisfiable },
  'suffix of zero': { header: 'bytes=-0', expected: unsatisfiable },
  'every range unsatisfiable': { header: 'bytes=100-,-0,500-600', expected: unsatisfiable },
  'unsatisfiable ranges are dropped': { header: 'bytes=100-,0-1', expected: partial([0, 1]) },
  'empty file, closed range': { header: 'bytes=0-1', size: 0, expected: unsatisfiable },
  'empty file, open range': { header: 'bytes=0-', size: 0, expected: unsatisfiable },
  'empty file, suffix': { header: 'bytes=-5', size: 0, expected: unsatisfiable },
  'one-byte file': { header: 'bytes=-5', size: 1, expected: partial([0, 0]) },

  'other unit': { header: 'items=0-1', expected: full },
  'no equals sign': { header: 'bytes', expected: full },
  'unit with inner whitespace': { header: 'bytes =0-1', expected: full },
  'no ranges': { header: 'bytes=', expected: full },
  'only a comma': { header: 'bytes=,', expected: full },
  'only whitespace and commas': { header: 'bytes= , ,', expected: full },
  'no dash': { header: 'bytes=5', expected: full },
  'lone dash': { header: 'bytes=-', expected: full },
  'first greater than last': { header: 'bytes=10-5', expected: full },
  'first greater than last beyond the file': { header: 'bytes=500-400', expected: full },
  'one bad spec spoils valid ones': { header: 'bytes=0-1,abc', expected: full },
  'plus sign': { header: 'bytes=+1-2', expected: full },
  'negative last-pos': { header: 'bytes=1--2', expected: full },
  'double-dash suffix': { header: 'bytes=--5', expected: full },
  'hexadecimal numbers': { header: 'bytes=0x10-0x20', expected: full },
  'exponent notation': { header: 'bytes=1e2-', expected: full },
  'decimal point': { header: 'bytes=1.5-2', expected: full },
  'space inside a spec': { header: 'bytes=0 - 1', expected: full },
  'unicode digits': { header: 'bytes=\u0661-\u0662', expected: full },
  'repeated unit': { header: 'bytes=0-1,bytes=2-3', expected: full },
  'first-pos beyond 2^53': { header: 'bytes=9007199254740993-', expected: full },
  'last-pos beyond 2^53': { header: 'bytes=0-99999999999999999999', expected: full },
  'suffix beyond 2^53': { header: 'bytes=-99999999999999999999', expected: full },
  'largest safe integer is fine': { header: 'bytes=0-9007199254740991', expected: partial([0, 99]) },

  'at the range limit': { header: 'bytes=0-0,2-2,4-4', maxRanges: 3, expected: partial([0, 0], [2, 2], [4, 4]) },
  'over the range limit': { header: 'bytes=0-0,2-2,4-4,6-6', maxRanges: 3, expected: full },
  'limit counts after coalescing': { header: 'bytes=0-0,1-1,2-2,3-3', maxRanges: 1, expected: partial([0, 3]) },
  'default limit is 16': { header: `bytes=${spaced(16)}`, expected: { kind: 'partial', ranges: spacedRanges(16) } },
  'default limit rejects 17': { header: `bytes=${spaced(17)}`, expected: full }
}

/** `n` one-byte ranges with gaps between them, so none coalesce. */
function spaced (n: number): string {
  return spacedRanges(n).map(({ start, end }) => `${start}-${end}`).join(',')
}

function spacedRanges (n: number): Array<{ start: number, end: number }> {
  return Array.from({ length: n }, (_, i) => ({ start: i * 2, end: i * 2 }))
}

t.test('parseRangeHeader', async (t) => {
  for (const [name, { header, size = 100, maxRanges, expected }] of Object.entries(cases)) {
    const options = maxRanges === undefined ? {} : { maxRanges }
    t.strictSame(parseRangeHeader(header, size, options), expected, `${name}: ${JSON.stringify(header)} of ${size}`)
  }
})

t.test('a range as big as the largest safe file', async (t) => {
  const size = Number.MAX_SAFE_INTEGER
  t.strictSame(parseRangeHeader('bytes=-1', size), partial([size - 1, size - 1]))
})

t.test('rejects a size that is not a byte count', async (t) => {
  for (const size of [-1, 1.5, Number.NaN, Infinity]) {
    t.throws(() => parseRangeHeader('bytes=0-1', size), RangeError, String(size))
  }
})

t.test('Content-Range values', async (t) => {
  t.equal(contentRange({ start: 0, end: 1 }, 100), 'bytes 0-1/100')
  t.equal(contentRange({ start: 99, end: 99 }, 100), 'bytes 99-99/100')
  t.equal(unsatisfiedRange(100), 'bytes */100')
  t.equal(unsatisfiedRange(0), 'bytes */0')
})
