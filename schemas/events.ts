import { Type, type Static } from 'typebox'
import type { ErrorBody } from './error.js'
import { FilenameParams } from './track.js'

export const EventsQuery = Type.Object({
  // Only the plays of this track; all tracks when absent.
  filename: Type.Optional(FilenameParams.properties.filename)
}, { additionalProperties: false })
export type EventsQueryType = Static<typeof EventsQuery>

/** The `data:` of each `event: play` on GET /events. */
export const PlayEventSchema = Type.Object({
  filename: Type.String({ examples: ['ephemeral-demo.wav'] }),
  segment_index: Type.Integer({ minimum: 0, examples: [3] }),
  play_count: Type.Integer({ minimum: 1, description: 'Plays of the segment, this one included', examples: [5] }),
  segment_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Percent of the segment now silenced', examples: [5] }),
  overall_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Percent of the track now silenced', examples: [0.1042] }),
  total_plays: Type.Integer({ minimum: 1, description: 'Plays of the track, all segments; the track\'s version (its ETags end with it)', examples: [12] })
}, {
  $id: 'PlayEvent',
  title: 'PlayEvent',
  description: 'A recorded play, as pushed to live listeners by GET /events (`event: play`)',
  additionalProperties: false
})
export type PlayEvent = Static<typeof PlayEventSchema>

export const eventsErrorExamples = {
  badFilename: { statusCode: 400, error: 'Bad Request', message: 'Invalid request: querystring/filename must match pattern "^[^/\\\\\\x00]+\\.[wW][aA][vV]$"', code: 'FST_ERR_VALIDATION' },
  tooManyListeners: { statusCode: 503, error: 'Service Unavailable', message: '256 live listeners already: try again in 5 s', code: 'EA_TOO_MANY_LISTENERS' }
} satisfies Record<string, ErrorBody>
