import { Type } from 'typebox'

/**
 * The HTTP headers of GET|HEAD /stream. Request headers are validated as
 * optional strings (Fastify matches the names case-insensitively); the
 * response headers are documentation only.
 */

export const AUDIO_TYPE = 'audio/wav'
export const MULTIPART_TYPE = 'multipart/byteranges'

const etag = '"3f0c8a52-1b7e-4c55-9d0a-2f6c1e8b7a90-72"'
const date = 'Sat, 28 Nov 2026 21:00:00 GMT'

export const StreamRequestHeaders = Type.Object({
  Range: Type.Optional(Type.String({
    description: 'Byte ranges to send (RFC 9110 §14.2): one (`bytes=0-1023`, `bytes=1024-`, `bytes=-500`) gives a 206 with that range, several a 206 `multipart/byteranges`. A range starting past the end is a 416; a header that cannot be parsed, or more than 16 ranges, is ignored (200 with the whole file). Only a range that starts at byte 0 and reaches past the WAV header counts as a listen.',
    examples: ['bytes=0-1023']
  })),
  'If-Range': Type.Optional(Type.String({ description: 'An ETag or HTTP date: honour Range only if the track is still that version, else send the whole file (200)', examples: [etag] })),
  'If-None-Match': Type.Optional(Type.String({ description: 'ETags (or `*`): 304 Not Modified if the track still has one of them', examples: [etag] })),
  'If-Modified-Since': Type.Optional(Type.String({ description: 'HTTP date: 304 Not Modified if the track has not changed since (ignored when If-None-Match is sent)', examples: [date] })),
  'If-Match': Type.Optional(Type.String({ description: 'ETags (or `*`): 412 Precondition Failed unless the track still has one of them', examples: [etag] })),
  'If-Unmodified-Since': Type.Optional(Type.String({ description: 'HTTP date: 412 Precondition Failed if the track changed since (ignored when If-Match is sent)', examples: [date] }))
})

const validatorHeaders = {
  etag: Type.String({ description: 'The version of the track\'s bytes; it changes with every play recorded', examples: [etag] }),
  'last-modified': Type.String({ description: 'When the audio last changed', examples: [date] }),
  'cache-control': Type.Literal('no-cache', { description: 'Every play changes the bytes: caches must revalidate' }),
  'accept-ranges': Type.Literal('bytes', { description: 'Range requests are supported' })
}

export const fullBodyHeaders = {
  ...validatorHeaders,
  'content-length': Type.Integer({ minimum: 0, description: 'Size of the file in bytes', examples: [4233644] })
}

export const partialBodyHeaders = {
  ...validatorHeaders,
  'content-length': Type.Integer({ minimum: 0, description: 'Size of the body in bytes', examples: [1024] }),
  'content-range': Type.String({ description: 'For a single range: the range sent and the size of the file (absent for multipart/byteranges, where each part has its own)', examples: ['bytes 0-1023/4233644'] })
}

export const notModifiedHeaders = validatorHeaders

export const unsatisfiedRangeHeaders = {
  ...validatorHeaders,
  'content-range': Type.String({ description: 'The size of the file', examples: ['bytes */4233644'] })
}

const binary = Type.String({ format: 'binary', description: 'The bytes of the WAV file' })

export const wholeFile = {
  description: 'The whole file (no Range, an ignored Range, or a stale If-Range)',
  headers: fullBodyHeaders,
  content: { [AUDIO_TYPE]: { schema: binary } }
}

export const partialFile = {
  description: 'The requested range: `audio/wav` with Content-Range for one range, `multipart/byteranges; boundary=...` for several',
  headers: partialBodyHeaders,
  content: {
    [AUDIO_TYPE]: { schema: binary },
    [MULTIPART_TYPE]: { schema: Type.String({ format: 'binary', description: 'RFC 9110 §14.6 multipart body: one part per range, each with its Content-Type and Content-Range' }) }
  }
}

export const notModified = {
  description: 'Not Modified: the client\'s copy (If-None-Match / If-Modified-Since) is current. No body.',
  headers: notModifiedHeaders,
  type: 'null' as const
}
