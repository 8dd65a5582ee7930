import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { createReadStream } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { Type } from 'typebox'
import { FilenameParams } from '../schemas/track.js'
import type { Track } from '../plugins/app/library.js'
import { parseRangeHeader, contentRange, unsatisfiedRange, type ByteRange } from '../lib/range.js'
import { evaluatePreconditions, rangeIsStillValid, httpDate } from '../lib/conditional.js'
import { multipartByteranges } from '../lib/multipart.js'

const AUDIO_TYPE = 'audio/wav'
// Large enough that a whole-file GET takes few reads, small enough to keep memory per client flat.
const READ_CHUNK = 256 * 1024

const errorRef = Type.Ref('Error')
const binary = { content: { [AUDIO_TYPE]: { schema: Type.String({ format: 'binary' }) } } }

const stream: FastifyPluginAsyncTypebox = async (fastify) => {
  const { library } = fastify

  fastify.get('/stream/:filename', {
    schema: {
      operationId: 'streamTrack',
      tags: ['stream'],
      summary: 'Stream a track (HTTP Range supported)',
      description: 'The WAV file as it is now. Honours Range (single and multiple ranges), If-Range, If-None-Match, If-Modified-Since, If-Match and If-Unmodified-Since as RFC 9110 says. Unknown query parameters (cache busters) are accepted.',
      params: FilenameParams,
      querystring: Type.Object({}, { additionalProperties: true }),
      response: {
        200: { description: 'The whole file', ...binary },
        206: { description: 'The requested range(s)', ...binary },
        304: { description: 'Not modified', type: 'null' },
        400: errorRef,
        404: errorRef,
        412: errorRef,
        416: errorRef,
        422: errorRef
      }
    }
  }, async (request, reply) => {
    const track = await library.find(request.params.filename)
    const size = track.meta.file.size
    const validators = { etag: library.etag(track), lastModified: track.lastModified }
    const h = request.headers
    reply
      .header('accept-ranges', 'bytes')
      .header('etag', validators.etag)
      .header('last-modified', httpDate(validators.lastModified))
      // Every play changes the bytes: caches must revalidate each time.
      .header('cache-control', 'no-cache')

    const precondition = evaluatePreconditions({
      ifMatch: oneHeader(h['if-match']),
      ifNoneMatch: h['if-none-match'],
      ifModifiedSince: h['if-modified-since'],
      ifUnmodifiedSince: h['if-unmodified-since']
    }, validators)
    if (precondition === 'not-modified') return await reply.code(304).send(null)
    if (precondition === 'precondition-failed') {
      return await reply.code(412).send({ statusCode: 412, error: 'Precondition Failed', message: 'The track has changed since the version the request names', code: 'EA_PRECONDITION_FAILED' })
    }

    const decision = rangeIsStillValid(oneHeader(h['if-range']), validators)
      ? parseRangeHeader(h.range, size)
      : { kind: 'full' as const }
    const isHead = request.method === 'HEAD'

    if (decision.kind === 'unsatisfiable') {
      return await reply.code(416).header('content-range', unsatisfiedRange(size)).send({
        statusCode: 416, error: 'Range Not Satisfiable', message: `The requested range is outside the file (${size} bytes)`, code: 'EA_RANGE_NOT_SATISFIABLE'
      })
    }

    if (decision.kind === 'full') {
      if (!isHead) countListen(track, { start: 0, end: size - 1 })
      return await sendBody(reply.code(200).type(AUDIO_TYPE), size, isHead, () => fileStream(track.path, { start: 0, end: size - 1 }))
    }

    const [first, ...others] = decision.ranges
    if (first !== undefined && others.length === 0) {
      if (!isHead) countListen(track, first)
      return await sendBody(reply.code(206).type(AUDIO_TYPE).header('content-range', contentRange(first, size)),
        first.end - first.start + 1, isHead, () => fileStream(track.path, first))
    }

    const body = multipartByteranges(decision.ranges, size, AUDIO_TYPE, randomBytes(12).toString('hex'))
    return await sendBody(reply.code(206).type(body.contentType), body.contentLength, isHead, () => Readable.from(
      (async function * () {
        for (const part of body.parts) {
          yield part.head
          yield * fileStream(track.path, part.range)
        }
        yield body.tail
      })()
    ))
  })

  /**
   * A listen is a request that starts at the beginning of the file and reaches
   * past the header; HEAD, Safari's 2-byte probe and seeks are not listens.
   */
  function countListen (track: Track, range: ByteRange): void {
    if (range.start !== 0 || range.end < track.meta.layout.dataOffset) return
    track.meta.total_streams++
    library.markDirty(track)
  }
}

function fileStream (path: string, range: ByteRange) {
  return createReadStream(path, { start: range.start, end: range.end, highWaterMark: READ_CHUNK })
}

/** A header a client may repeat: repeated If-Match values are one comma-separated list. */
function oneHeader (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

async function sendBody (reply: FastifyReply, length: number, isHead: boolean, body: () => Readable) {
  reply.header('content-length', length)
  // Fastify's HEAD handling keeps our Content-Length only for a stream payload; an empty one reads nothing.
  return await reply.send(isHead ? Readable.from([]) : body())
}

export default stream
