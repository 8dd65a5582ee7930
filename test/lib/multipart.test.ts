import t from 'tap'
import { multipartByteranges } from '../../lib/multipart.js'
import type { ByteRange } from '../../lib/range.js'

const boundary = '3d6b6a416f9b5'

/** Streams the body the way the route does: head, file bytes, …, tail. */
function assemble (file: Buffer, ranges: ByteRange[], type = 'audio/wav'): { body: Buffer, contentLength: number, contentType: string } {
  const { parts, tail, contentLength, contentType } = multipartByteranges(ranges, file.length, type, boundary)
  const chunks = parts.flatMap(({ head, range }) => [head, file.subarray(range.start, range.end + 1)])
  return { body: Buffer.concat([...chunks, tail]), contentLength, contentType }
}

interface ParsedPart { headers: Map<string, string>, data: Buffer }

/**
 * A deliberately naive reader, in the way a browser's would be: it finds
 * parts by searching for delimiters (RFC 2046 §5.1.1), never by trusting
 * Content-Range, so wrong framing or lengths show up as wrong bytes.
 */
function parseMultipart (body: Buffer, boundary: string): ParsedPart[] {
  const open = Buffer.from(`--${boundary}\r\n`)
  const delimiter = Buffer.from(`\r\n--${boundary}`)
  if (!body.subarray(0, open.length).equals(open)) throw new Error('body does not start with a delimiter')
  const parts: ParsedPart[] = []
  let at = open.length
  for (;;) {
    const headerEnd = body.indexOf('\r\n\r\n', at)
    if (headerEnd === -1) throw new Error('unterminated part headers')
    const headers = new Map<string, string>()
    for (const line of body.subarray(at, headerEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':')
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
    }
    const dataEnd = body.indexOf(delimiter, headerEnd + 4)
    if (dataEnd === -1) throw new Error('missing delimiter after part')
    parts.push({ headers, data: body.subarray(headerEnd + 4, dataEnd) })
    const after = body.subarray(dataEnd + delimiter.length).toString('latin1')
    if (after === '--\r\n') return parts
    if (!after.startsWith('\r\n')) throw new Error('junk after delimiter')
    at = dataEnd + delimiter.length + 2
  }
}

// Audio is binary: include bytes that look like a delimiter line to prove they pass through.
const file = Buffer.concat([
  Buffer.from('\r\n--not-the-boundary\r\n\r\n'),
  Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) % 256))
])
const last = file.length - 1

const cases: Record<string, ByteRange[]> = {
  'a single range': [{ start: 100, end: 199 }],
  'two ranges': [{ start: 0, end: 1 }, { start: 5, end: 9 }],
  'one-byte ranges at both ends': [{ start: 0, end: 0 }, { start: last, end: last }],
  'a range holding delimiter-like bytes': [{ start: 0, end: 30 }, { start: 500, end: last }],
  'many ranges': Array.from({ length: 16 }, (_, i) => ({ start: i * 60, end: i * 60 + 9 }))
}

t.test('the assembled body parses back to the requested bytes', async (t) => {
  for (const [name, ranges] of Object.entries(cases)) {
    const { body, contentLength, contentType } = assemble(file, ranges)
    t.equal(contentLength, body.length, `${name}: Content-Length is exact`)
    t.equal(contentType, `multipart/byteranges; boundary=${boundary}`, `${name}: Content-Type`)
    const parts = parseMultipart(body, boundary)
    t.equal(parts.length, ranges.length, `${name}: one part per range`)
    ranges.forEach(({ start, end }, i) => {
      const part = parts[i]
      t.equal(part?.headers.get('content-type'), 'audio/wav', `${name} #${i}: part Content-Type`)
      t.equal(part?.headers.get('content-range'), `bytes ${start}-${end}/${file.length}`, `${name} #${i}: part Content-Range`)
      t.same(part?.data, file.subarray(start, end + 1), `${name} #${i}: part bytes`)
    })
  }
})

t.test('the framing is byte-exact', async (t) => {
  const { body, contentLength } = assemble(Buffer.from('abcdefghij'), [{ start: 0, end: 1 }, { start: 5, end: 9 }], 'text/plain')
  const expected = [
    `--${boundary}`,
    'Content-Type: text/plain',
    'Content-Range: bytes 0-1/10',
    '',
    'ab',
    `--${boundary}`,
    'Content-Type: text/plain',
    'Content-Range: bytes 5-9/10',
    '',
    'fghij',
    `--${boundary}--`,
    ''
  ].join('\r\n')
  t.equal(body.toString('latin1'), expected)
  t.equal(contentLength, expected.length)
})

t.test('Content-Length covers ranges far larger than memory', async (t) => {
  const size = 2 ** 41
  const range = { start: 2 ** 40, end: size - 1 }
  const { parts, tail, contentLength } = multipartByteranges([range], size, 'audio/wav', boundary)
  const [part] = parts
  t.equal(contentLength, (part?.head.length ?? 0) + 2 ** 40 + tail.length)
  t.match(part?.head.toString('latin1'), `Content-Range: bytes ${2 ** 40}-${size - 1}/${size}\r\n`)
})

t.test('refuses framing that would corrupt the response', async (t) => {
  const ok: ByteRange[] = [{ start: 0, end: 1 }]
  const refusals: Record<string, [ByteRange[], number, string, string]> = {
    'empty boundary': [ok, 10, 'audio/wav', ''],
    'boundary over 70 characters': [ok, 10, 'audio/wav', 'b'.repeat(71)],
    'boundary with a space': [ok, 10, 'audio/wav', 'a b'],
    'boundary that needs quoting': [ok, 10, 'audio/wav', 'a/b'],
    'boundary with a line break': [ok, 10, 'audio/wav', 'a\r\nb'],
    'content type with a line break': [ok, 10, 'audio/wav\r\nX-Evil: 1', boundary],
    'no ranges': [[], 10, 'audio/wav', boundary],
    'end past the file': [[{ start: 5, end: 10 }], 10, 'audio/wav', boundary],
    'start after end': [[{ start: 5, end: 4 }], 10, 'audio/wav', boundary],
    'negative start': [[{ start: -1, end: 4 }], 10, 'audio/wav', boundary],
    'fractional offset': [[{ start: 0.5, end: 4 }], 10, 'audio/wav', boundary],
    'a bad range after a good one': [[{ start: 0, end: 1 }, { start: 3, end: 99 }], 10, 'audio/wav', boundary]
  }
  for (const [name, args] of Object.entries(refusals)) {
    t.throws(() => multipartByteranges(...args), name)
  }
  t.equal(multipartByteranges(ok, 10, 'audio/wav', 'b'.repeat(70)).contentType, `multipart/byteranges; boundary=${'b'.repeat(70)}`, '70 characters is the limit')
})
