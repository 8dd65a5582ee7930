/**
 * The framing of a multipart/byteranges body (RFC 9110 §14.6). Only the
 * framing is built here; the caller streams each part's file bytes between
 * the heads, so no audio is buffered and Content-Length is known up front.
 */
import { contentRange, type ByteRange } from './range.js'

export interface MultipartPart {
  /** Delimiter and part headers; the range's file bytes follow it. */
  head: Buffer
  range: ByteRange
}

export interface MultipartByteranges {
  /** `multipart/byteranges; boundary=...`, for the response's Content-Type. */
  contentType: string
  parts: MultipartPart[]
  /** The close delimiter, sent after the last part's bytes. */
  tail: Buffer
  /** Bytes of the whole body: every head, every range and the tail. */
  contentLength: number
}

const CRLF = '\r\n'
// bchars (RFC 2046) that are also token characters, so the boundary needs no quoting in Content-Type.
const BOUNDARY = /^[0-9A-Za-z'+_.-]{1,70}$/
const HEADER_BREAK = /[\r\n\0]/

/**
 * Like RFC 9110's own example, the body opens with the first delimiter; every
 * later delimiter starts with the CRLF that ends the previous part's bytes.
 */
export function multipartByteranges (ranges: ByteRange[], size: number, contentType: string, boundary: string): MultipartByteranges {
  if (!BOUNDARY.test(boundary)) throw new TypeError(`invalid multipart boundary: ${JSON.stringify(boundary)}`)
  if (HEADER_BREAK.test(contentType)) throw new TypeError('content type must not contain line breaks')
  if (ranges.length === 0) throw new RangeError('a multipart body needs at least one range')

  const parts = ranges.map((range, index) => {
    assertWithin(range, size)
    const head = (index === 0 ? '' : CRLF) +
      `--${boundary}${CRLF}` +
      `Content-Type: ${contentType}${CRLF}` +
      `Content-Range: ${contentRange(range, size)}${CRLF}${CRLF}`
    return { head: Buffer.from(head, 'latin1'), range }
  })
  const tail = Buffer.from(`${CRLF}--${boundary}--${CRLF}`, 'latin1')
  const contentLength = parts.reduce(
    (total, { head, range }) => total + head.length + range.end - range.start + 1,
    tail.length
  )
  return { contentType: `multipart/byteranges; boundary=${boundary}`, parts, tail, contentLength }
}

/** A range outside the file would make Content-Length a lie and stall the client. */
function assertWithin (range: ByteRange, size: number): void {
  const { start, end } = range
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end >= size) {
    throw new RangeError(`range ${start}-${end} is not within a file of ${size} bytes`)
  }
}
