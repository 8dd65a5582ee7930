import { Type, type Static } from 'typebox'

/** The one shape every error reply has. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status, repeated', examples: [404] }),
  error: Type.String({ description: 'The status text, e.g. "Not Found"', examples: ['Not Found'] }),
  message: Type.String({ description: 'What went wrong, for a person to read', examples: ['Track not found: missing.wav'] }),
  code: Type.Optional(Type.String({ description: 'A stable machine-readable code, e.g. EA_TRACK_NOT_FOUND', examples: ['EA_TRACK_NOT_FOUND'] }))
}, { $id: 'Error', title: 'Error', description: 'An error reply. `code` names the failure (EA_* for the service\'s own, FST_* for Fastify\'s); `message` is for people and may change.', additionalProperties: false })

export type ErrorBody = Static<typeof ErrorSchema>

/** Real replies of the service, for the OpenAPI document. */
export const errorExamples = {
  badFilename: { statusCode: 400, error: 'Bad Request', message: 'Invalid request: a track name is a file name ending in .wav (5 to 200 characters, no /, \\ or NUL)', code: 'EA_BAD_FILENAME' },
  badSegmentIndex: { statusCode: 400, error: 'Bad Request', message: 'Invalid request: body/segment_index must be integer', code: 'FST_ERR_VALIDATION' },
  segmentOutOfRange: { statusCode: 400, error: 'Bad Request', message: 'segment_index 48 is out of range: ephemeral-demo.wav has 48 segments (0 to 47)', code: 'EA_SEGMENT_OUT_OF_RANGE' },
  trackNotFound: { statusCode: 404, error: 'Not Found', message: 'Track not found: missing.wav', code: 'EA_TRACK_NOT_FOUND' },
  preconditionFailed: { statusCode: 412, error: 'Precondition Failed', message: 'The track has changed since the version the request names', code: 'EA_PRECONDITION_FAILED' },
  bodyTooLarge: { statusCode: 413, error: 'Payload Too Large', message: 'Request body is too large', code: 'FST_ERR_CTP_BODY_TOO_LARGE' },
  unsupportedMediaType: { statusCode: 415, error: 'Unsupported Media Type', message: 'Unsupported Media Type', code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
  rangeNotSatisfiable: { statusCode: 416, error: 'Range Not Satisfiable', message: 'The requested range is outside the file (4233644 bytes)', code: 'EA_RANGE_NOT_SATISFIABLE' },
  unplayable: { statusCode: 422, error: 'Unprocessable Entity', message: 'broken.wav cannot be played: no fmt chunk: the file does not say how its audio is encoded', code: 'EA_UNPLAYABLE_WAV' },
  unauthorized: { statusCode: 401, error: 'Unauthorized', message: 'A valid admin token is required: Authorization: Bearer <ADMIN_TOKEN>', code: 'EA_UNAUTHORIZED' },
  adminDisabled: { statusCode: 403, error: 'Forbidden', message: 'Admin routes are disabled: set ADMIN_TOKEN to enable them', code: 'EA_ADMIN_DISABLED' },
  trackChanged: { statusCode: 409, error: 'Conflict', message: 'ephemeral-demo.wav was replaced on disk during the reset; nothing was changed', code: 'EA_TRACK_CHANGED' },
  diskFull: { statusCode: 503, error: 'Service Unavailable', message: 'The service cannot write: its disk is full (or over quota). Try again once space is freed.', code: 'EA_DISK_FULL' },
  tooManyRequests: { statusCode: 429, error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 1 second' }
} satisfies Record<string, ErrorBody>
