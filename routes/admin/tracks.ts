import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { FilenameParams, TitleRequestSchema, trackExample, type Track } from '../../schemas/track.js'
import { AdminHeaders } from '../../schemas/reset.js'
import { errorExamples } from '../../schemas/error.js'
import { errorResponse, jsonResponse, retryLaterHeaders, wwwAuthenticateHeaders } from '../../schemas/responses.js'
import { trackSummary } from '../track-view.js'

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
      summary: 'Set a track\'s title (admin)',
      description: 'Sets the title `/tracks` and the players show (by default the file name without `.wav`, as the Flask service had it). The track\'s name, audio and plays do not change.',
      params: FilenameParams,
      headers: AdminHeaders,
      body: TitleRequestSchema,
      security: [{ adminToken: [] }],
      response: { 200: jsonResponse('The track with its new title', 'Track', trackExample), ...common }
    }
  }, async (request): Promise<Track> => {
    const track = await tracks.get(request.params.filename)
    await lifecycle.retitle(track, request.body.title)
    return trackSummary(track, config.degradationRate)
  })
}

export default trackAdmin
