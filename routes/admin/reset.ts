import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { FilenameParams } from '../../schemas/track.js'
import { AdminHeaders, resetResultExample, type ResetResult } from '../../schemas/reset.js'
import { errorExamples } from '../../schemas/error.js'
import { errorResponse, jsonResponse, retryLaterHeaders, wwwAuthenticateHeaders } from '../../schemas/responses.js'
import { overallDegradation } from '../../lib/track-figures.js'

const reset: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, tracks } = fastify
  fastify.removeContentTypeParser('text/plain')

  fastify.post('/reset/:filename', {
    schema: {
      operationId: 'resetTrack',
      tags: ['admin'],
      summary: 'Give a track its pristine audio back (admin)',
      description: 'Restores the audio from the pristine copy kept when the service first saw the track, sets its play counts back to the baseline (zero, or the counts adopted from the Flask service) and gives it a new identity (new ETag). Needs `Authorization: Bearer <ADMIN_TOKEN>`; without ADMIN_TOKEN configured, resets are disabled (403).',
      params: FilenameParams,
      headers: AdminHeaders,
      security: [{ adminToken: [] }],
      response: {
        200: jsonResponse('The track is reset', 'ResetResult', resetResultExample),
        400: errorResponse('The file name is not a WAV file name', errorExamples.badFilename),
        401: errorResponse('Missing or wrong admin token', errorExamples.unauthorized, wwwAuthenticateHeaders),
        403: errorResponse('Admin routes are disabled: ADMIN_TOKEN is not set', errorExamples.adminDisabled),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        409: errorResponse('The track\'s file was replaced on disk while the reset waited for it: nothing was reset', errorExamples.trackChanged),
        422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
        503: errorResponse('The disk is full, read-only or not writable: the reset was rolled back', errorExamples.diskFull, retryLaterHeaders)
      }
    }
  }, async (request): Promise<ResetResult> => {
    const track = await fastify.lifecycle.reset(await tracks.get(request.params.filename))
    request.log.warn({ track: track.filename }, 'track reset to its pristine audio')
    return { success: true, filename: track.filename, total_plays: track.plays, overall_degradation: overallDegradation(track.meta.segment_play_counts, config.degradationRate) }
  })
}

export default reset
