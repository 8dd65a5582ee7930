import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { engineOf, formatOf, trackSummary } from './track-view.js'
import { overallDegradation, segmentDegradation } from '../lib/track-figures.js'
import { FilenameParams, trackExample, trackStatsExample, type TrackStats } from '../schemas/track.js'
import { errorExamples } from '../schemas/error.js'
import { errorResponse, jsonResponse, retryLaterHeaders } from '../schemas/responses.js'

const tracks: FastifyPluginAsyncTypebox = async (fastify) => {
  const rate = fastify.config.degradationRate

  const summary = (track: Parameters<typeof trackSummary>[0]) => trackSummary(track, rate)

  fastify.get('/tracks', {
    schema: {
      operationId: 'listTracks',
      tags: ['tracks'],
      summary: 'List playable tracks',
      description: 'Every playable WAV file in AUDIO_DIR with its degradation. Files that cannot be played are left out (the log says why).',
      response: { 200: jsonResponse('The playable tracks, by file name', 'TrackList', [trackExample]) }
    }
  }, async () => (await fastify.tracks.sync()).map(summary))

  fastify.get('/tracks/:filename', {
    schema: {
      operationId: 'getTrack',
      tags: ['tracks'],
      summary: 'One track, as /tracks lists it',
      description: 'The track\'s entry of `GET /tracks`: title, duration, format, plays and degradation. Where an upload\'s `Location` points.',
      params: FilenameParams,
      response: {
        200: jsonResponse('The track', 'Track', trackExample),
        400: errorResponse('The file name is not a WAV file name', errorExamples.badFilename),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
        503: errorResponse('The disk is full, read-only or not writable (EA_DISK_FULL, EA_DISK_READ_ONLY, EA_DISK_PERMISSION); Retry-After says when to try again', errorExamples.diskFull, retryLaterHeaders)
      }
    }
  }, async (request) => summary(await fastify.tracks.get(request.params.filename)))

  fastify.get('/stats/:filename', {
    schema: {
      operationId: 'getTrackStats',
      tags: ['tracks'],
      summary: 'Per-segment statistics of a track',
      description: 'Play counts and the share silenced of every segment.',
      params: FilenameParams,
      response: {
        200: jsonResponse('The track\'s figures, segment by segment', 'TrackStats', trackStatsExample),
        400: errorResponse('The file name is not a WAV file name', errorExamples.badFilename),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
        503: errorResponse('The disk is full, read-only or not writable (EA_DISK_FULL, EA_DISK_READ_ONLY, EA_DISK_PERMISSION); Retry-After says when to try again', errorExamples.diskFull, retryLaterHeaders)
      }
    }
  }, async (request): Promise<TrackStats> => {
    const track = await fastify.tracks.get(request.params.filename)
    const m = track.meta
    return {
      filename: m.filename,
      title: m.title,
      duration: m.duration,
      total_segments: m.total_segments,
      segment_duration: m.segment_duration,
      segment_play_counts: m.segment_play_counts,
      segment_degradation: segmentDegradation(m.segment_play_counts, rate),
      overall_degradation: overallDegradation(m.segment_play_counts, rate),
      total_streams: m.total_streams,
      total_plays: track.plays,
      degradation_rate: rate,
      created_at: m.created_at,
      ...engineOf(track),
      ...formatOf(track)
    }
  })
}

export default tracks
