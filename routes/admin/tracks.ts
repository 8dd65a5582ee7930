import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { FilenameParams, TrackChangeSchema, trackExample, type Track } from '../../schemas/track.js'
import { AdminHeaders } from '../../schemas/reset.js'
import { errorExamples } from '../../schemas/error.js'
import { errorResponse, jsonResponse, retryLaterHeaders, wwwAuthenticateHeaders } from '../../schemas/responses.js'
import { trackSummary } from '../track-view.js'
import { engineIdOf } from '../../lib/engines/track-render.js'
import { decodeToWav, SUPPORTED_FORMATS_TEXT } from '../../lib/decode/index.js'
import { TrackError } from '../../lib/track-error.js'
import { fileBodyValidator, rawBodyRoutes } from './raw-body.js'
import { Type } from 'typebox'
import { engineChoice, engineFromQuery } from '../engine-choice.js'

const NO_CONTENT = 204

/** What the artist does to tracks: rename for display, delete (uploads come with the decoders). */
const trackAdmin: FastifyPluginAsyncTypebox = async (fastify) => {
  const { tracks, lifecycle, config } = fastify
  const common = {
    400: errorResponse('The file name is not a WAV file name', errorExamples.badFilename),
    401: errorResponse('Missing or wrong admin token', errorExamples.unauthorized, wwwAuthenticateHeaders),
    403: errorResponse('Admin routes are disabled: ADMIN_TOKEN is not set', errorExamples.adminDisabled),
    404: errorResponse('No such track', errorExamples.trackNotFound),
    409: errorResponse('The track\'s file changed on disk while the request waited for it: nothing was changed', { ...errorExamples.trackChanged, message: 'ephemeral-demo.wav changed on disk while the request ran; try again' }),
    422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
    503: errorResponse('The disk is full, read-only or not writable: nothing was changed', errorExamples.diskFull, retryLaterHeaders)
  }

  // The upload's body is the audio itself, whatever its Content-Type: read as a stream by the decoder, never buffered.
  await rawBodyRoutes(fastify, scope => {
    scope.put('/tracks/:filename', {
      // The body schema documents the upload for OpenAPI; the bytes themselves are the decoder's to judge.
      validatorCompiler: fileBodyValidator,
      schema: {
        operationId: 'uploadTrack',
        tags: ['admin'],
        summary: 'Upload a track, or replace one (admin)',
        description: `The body is the audio file itself, any Content-Type: the format is told from its bytes. ${SUPPORTED_FORMATS_TEXT} It is stored as a PCM WAV named {filename}: lossless formats sample for sample (same rate, channels and depth), lossy ones decoded to 16-bit PCM without encoder delay or padding. An existing track of that name is replaced by a new identity (fresh counts), unless \`If-None-Match: *\` is sent. Refused uploads (413, 415, 422, or a client that leaves) leave nothing behind.`,
        params: FilenameParams,
        headers: Type.Object({
          ...AdminHeaders.properties,
          'if-none-match': Type.Optional(Type.String({ description: '`*`: only create; 412 if the track exists' }))
        }),
        querystring: Type.Object({
          engine: Type.Optional(Type.String({ description: 'How the track decays (an id from `GET /engines`; default DECAY_ENGINE). The engine\'s parameters may follow as query parameters of their own names, e.g. `&cutoff_hz=400`; other parameters are ignored.', examples: ['tape'] }))
        }, { additionalProperties: true }),
        body: { description: 'The audio file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary', examples: ['fLaC…'] } } } } as never,
        security: [{ adminToken: [] }],
        response: {
          200: jsonResponse('An existing track was replaced by this audio (a new identity, counts at zero)', 'Track', trackExample),
          201: jsonResponse('A new track', 'Track', trackExample, { location: Type.String({ description: 'The track: GET /tracks/{filename}', examples: ['/tracks/ephemeral-demo.wav'] }) }),
          ...common,
          409: errorResponse('Another track has this name in another case, or the name is a symbolic link', { statusCode: 409, error: 'Conflict', message: 'Song.wav is already a track; names that differ only in case are one name: upload to Song.wav to replace it', code: 'EA_NAME_TAKEN' }),
          412: errorResponse('If-None-Match: * and the track exists', { statusCode: 412, error: 'Precondition Failed', message: 'ephemeral-demo.wav already exists (If-None-Match: *)', code: 'EA_TRACK_EXISTS' }),
          413: errorResponse('More than UPLOAD_MAX_BYTES', { statusCode: 413, error: 'Payload Too Large', message: 'The upload is larger than 1073741824 bytes (UPLOAD_MAX_BYTES)', code: 'EA_UPLOAD_TOO_LARGE' }),
          415: errorResponse('Not audio, or a format the service does not decode', { statusCode: 415, error: 'Unsupported Media Type', message: `not audio in a supported format; supported formats: ${SUPPORTED_FORMATS_TEXT}`, code: 'EA_UNSUPPORTED_FORMAT' }),
          422: errorResponse('A corrupt or truncated file of a supported format, or audio the service cannot play', { statusCode: 422, error: 'Unprocessable Entity', message: 'The FLAC stream ends in the middle of a frame', code: 'EA_CORRUPT_AUDIO' })
        }
      }
    }, async (request, reply) => {
      const { filename } = request.params
      // Checked before a byte is decoded.
      const engine = engineFromQuery(request.query)
      const declared = Number(request.headers['content-length'])
      if (declared > config.uploadMaxBytes) {
        throw new TrackError(413, 'EA_UPLOAD_TOO_LARGE', `The upload is larger than ${config.uploadMaxBytes} bytes (UPLOAD_MAX_BYTES)`)
      }
      // A client that leaves halfway stops the decoder, which removes what it wrote.
      const left = new AbortController()
      const onClose = () => { if (!request.raw.complete) left.abort(new Error('the client left during the upload')) }
      request.raw.once('close', onClose)
      const temp = tracks.uploadPath()
      let decoded
      try {
        decoded = await decodeToWav(request.raw, temp, { maxBytes: config.uploadMaxBytes, signal: left.signal })
      } finally {
        request.raw.off('close', onClose)
      }
      const { track, created } = await lifecycle.upload(filename, temp, { mustBeNew: request.headers['if-none-match']?.trim() === '*', ...(engine === undefined ? {} : { engine }) })
      request.log.info({ track: filename, format: decoded.format, frames: decoded.frames, replaced: !created }, 'upload stored')
      if (created) reply.code(201).header('location', `/tracks/${encodeURIComponent(filename)}`)
      return trackSummary(track, config.degradationRate)
    })
  })

  fastify.delete('/tracks/:filename', {
    schema: {
      operationId: 'deleteTrack',
      tags: ['admin'],
      summary: 'Delete a track for good (admin)',
      description: 'Removes the audio, its pristine copy and its metadata; `/stream`, `/stats` and `/peaks` answer 404 at once, a stream already running finishes from its open file, and live listeners get an `event: removed`. Crash-safe: the audio leaves AUDIO_DIR first, in one rename, and a stop after that is finished at the next start.',
      params: FilenameParams,
      headers: AdminHeaders,
      security: [{ adminToken: [] }],
      response: { 204: { description: 'The track is gone', type: 'null' }, ...common }
    }
  }, async (request, reply) => {
    await lifecycle.remove(await tracks.get(request.params.filename))
    request.log.warn({ track: request.params.filename }, 'track deleted')
    return await reply.code(NO_CONTENT).send(null)
  })

  fastify.patch('/tracks/:filename', {
    schema: {
      operationId: 'updateTrack',
      tags: ['admin'],
      summary: 'Set a track\'s title or its decay engine (admin)',
      description: '`title` sets the title `/tracks` and the players show (by default the file name without `.wav`, as the Flask service had it); the name, audio and plays do not change. `engine` (with `engine_params`, or those of the track\'s engine alone) makes the track decay in another way from now on: the counts are kept and every segment is rendered again from its pristine copy, under a new identity (new ETags); plays of this track wait meanwhile, others do not. Crash-safe as a reset is.',
      params: FilenameParams,
      headers: AdminHeaders,
      body: TrackChangeSchema,
      security: [{ adminToken: [] }],
      response: { 200: jsonResponse('The track with its new title', 'Track', trackExample), ...common }
    }
  }, async (request): Promise<Track> => {
    let track = await tracks.get(request.params.filename)
    const { title, engine, engine_params: params } = request.body
    const choice = engine === undefined && params === undefined ? undefined : engineChoice(engine ?? engineIdOf(track.meta), params)
    if (title !== undefined) await lifecycle.retitle(track, title)
    if (choice !== undefined) {
      track = await lifecycle.changeEngine(track, choice.id, choice.params)
      request.log.warn({ track: track.filename, engine: choice.id, params: choice.params }, 'engine changed')
    }
    return trackSummary(track, config.degradationRate)
  })
}

export default trackAdmin
