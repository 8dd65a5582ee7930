import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { Type } from 'typebox'
import { FilenameParams } from '../schemas/track.js'
import { errorExamples } from '../schemas/error.js'
import { errorResponse, retryLaterHeaders } from '../schemas/responses.js'
import { StreamRequestHeaders, wholeFile, partialFile, notModified, unsatisfiedRangeHeaders } from '../schemas/stream.js'
import type { Track } from '../plugins/app/track-store.js'
import { parseRangeHeader, contentRange, unsatisfiedRange, type ByteRange } from '../lib/range.js'
import { evaluatePreconditions, rangeIsStillValid, httpDate } from '../lib/conditional.js'
import { multipartByteranges } from '../lib/multipart.js'

const AUDIO_TYPE = 'audio/wav'

const stream: FastifyPluginAsyncTypebox = async (fastify) => {
  // Bytes come from the track cache: memory for hot tracks, shared read handles for the others.
  const { tracks, trackCache, metrics, analytics } = fastify

  fastify.get('/stream/:filename', {
    schema: {
      operationId: 'streamTrack',
      tags: ['stream'],
      summary: 'Stream a track (HTTP Range supported)',
      description: 'The WAV file as it is now. Honours Range (single and multiple ranges), If-Range, If-None-Match, If-Modified-Since, If-Match and If-Unmodified-Since as RFC 9110 says. A GET from byte 0 that reaches past the WAV header counts as a listen (`total_streams`). Unknown query parameters (cache busters) are accepted.',
      params: FilenameParams,
      querystring: Type.Object({}, { additionalProperties: true }),
      headers: StreamRequestHeaders,
      response: {
        200: wholeFile,
        206: partialFile,
        304: notModified,
        400: errorResponse('The file name is not a WAV file name', errorExamples.badFilename),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        412: errorResponse('If-Match or If-Unmodified-Since failed: the track has changed', errorExamples.preconditionFailed),
        416: errorResponse('Every requested range starts past the end of the file', errorExamples.rangeNotSatisfiable, unsatisfiedRangeHeaders),
        422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
        503: errorResponse('The disk is full, read-only or not writable (EA_DISK_FULL, EA_DISK_READ_ONLY, EA_DISK_PERMISSION); Retry-After says when to try again', errorExamples.diskFull, retryLaterHeaders)
      }
    }
  }, async (request, reply) => {
    const track = await tracks.get(request.params.filename)
    const size = track.meta.file.size
    const validators = { etag: tracks.etag(track), lastModified: track.lastModified }
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
    // No body and no Content-Type: a 304 describes the cached copy, it carries none.
    if (precondition === 'not-modified') return await reply.code(304).removeHeader('content-type').send()
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
      if (!isHead) countListen(track, { start: 0, end: size - 1 }, request)
      return await sendBody(reply.code(200).type(AUDIO_TYPE), size, isHead, () => trackCache.body(track, { start: 0, end: size - 1 }, reply.raw))
    }

    const [first, ...others] = decision.ranges
    if (first !== undefined && others.length === 0) {
      if (!isHead) countListen(track, first, request)
      return await sendBody(reply.code(206).type(AUDIO_TYPE).header('content-range', contentRange(first, size)),
        first.end - first.start + 1, isHead, () => trackCache.body(track, first, reply.raw))
    }

    const body = multipartByteranges(decision.ranges, size, AUDIO_TYPE, randomBytes(12).toString('hex'))
    return await sendBody(reply.code(206).type(body.contentType), body.contentLength, isHead, () => Readable.from(
      (async function * () {
        for (const part of body.parts) {
          yield part.head
          yield * trackCache.read(track, part.range, reply.raw) ?? trackCache.stream(track, part.range)
        }
        yield body.tail
      })()
    ))
  })

  /**
   * A listen is a request that starts at the beginning of the file and reaches
   * past the header; HEAD, Safari's 2-byte probe and seeks are not listens.
   */
  function countListen (track: Track, range: ByteRange, request: FastifyRequest): void {
    if (range.start !== 0 || range.end < track.meta.layout.dataOffset) return
    track.meta.total_streams++
    tracks.markDirty(track)
    metrics.listens.inc()
    analytics.listen(track, request)
  }
}

/** A header a client may repeat: repeated If-Match values are one comma-separated list. */
function oneHeader (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

async function sendBody (reply: FastifyReply, length: number, isHead: boolean, body: () => Readable | Buffer) {
  reply.header('content-length', length)
  // Fastify's HEAD handling keeps our Content-Length only for a stream payload; an empty one reads nothing.
  return await reply.send(isHead ? Readable.from([]) : body())
}

export default stream
