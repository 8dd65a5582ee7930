import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createHash, timingSafeEqual } from 'node:crypto'
import { FilenameParams } from '../schemas/track.js'
import { AdminHeaders, resetResultExample, type ResetResult } from '../schemas/reset.js'
import { errorExamples } from '../schemas/error.js'
import { errorResponse, jsonResponse, retryAfterHeaders } from '../schemas/responses.js'
import { overallDegradation } from '../lib/track-figures.js'
import { TrackError } from '../lib/track-error.js'

/** Compare digests, so neither the token's length nor its content leaks through timing. */
function sameToken (given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(expected))
}

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
        401: errorResponse('Missing or wrong admin token', { statusCode: 401, error: 'Unauthorized', message: 'A valid admin token is required: Authorization: Bearer <ADMIN_TOKEN>', code: 'EA_UNAUTHORIZED' }),
        403: errorResponse('Resets are disabled: ADMIN_TOKEN is not set', { statusCode: 403, error: 'Forbidden', message: 'Resets are disabled: set ADMIN_TOKEN to enable them', code: 'EA_ADMIN_DISABLED' }),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        409: errorResponse('The track\'s file was replaced on disk while the reset waited for it: nothing was reset', errorExamples.trackChanged),
        422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
        503: errorResponse('The disk is full, read-only or not writable: the reset was rolled back', errorExamples.diskFull, retryAfterHeaders)
      }
    }
  }, async (request, reply): Promise<ResetResult> => {
    if (config.adminToken === '') throw new TrackError(403, 'EA_ADMIN_DISABLED', 'Resets are disabled: set ADMIN_TOKEN to enable them')
    // The scheme is case-insensitive (RFC 9110 §11.1).
    const given = /^bearer +(.+?)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
    if (given === undefined || !sameToken(given, config.adminToken)) {
      reply.header('www-authenticate', given === undefined ? 'Bearer realm="ephemeral-audio"' : 'Bearer realm="ephemeral-audio", error="invalid_token"')
      throw new TrackError(401, 'EA_UNAUTHORIZED', 'A valid admin token is required: Authorization: Bearer <ADMIN_TOKEN>')
    }
    const track = await fastify.lifecycle.reset(await tracks.get(request.params.filename))
    request.log.warn({ track: track.filename }, 'track reset to its pristine audio')
    return { success: true, filename: track.filename, total_plays: track.plays, overall_degradation: overallDegradation(track.meta.segment_play_counts, config.degradationRate) }
  })
}

export default reset
