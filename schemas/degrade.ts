import { Type, type Static } from 'typebox'

export const DegradeRequestSchema = Type.Object({
  segment_index: Type.Integer({ minimum: 0, description: 'The segment the player just played, 0-based: from 0 to `total_segments - 1` of the track (see getTrackStats); beyond that is a 400. A JSON integer: the string "3" is refused.', examples: [3] })
}, { $id: 'DegradeRequest', title: 'DegradeRequest', description: 'One play of one segment. Other fields are ignored.', additionalProperties: true, examples: [{ segment_index: 3 }] })
export type DegradeRequest = Static<typeof DegradeRequestSchema>

export const DegradeResultSchema = Type.Object({
  success: Type.Literal(true),
  filename: Type.String({ examples: ['ephemeral-demo.wav'] }),
  segment_index: Type.Integer({ minimum: 0, examples: [3] }),
  play_count: Type.Integer({ minimum: 1, description: 'Plays of the segment, this one included', examples: [5] }),
  segment_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Percent of the segment now silenced', examples: [5] }),
  overall_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Percent of the track now silenced (mean over segments)', examples: [0.1042] }),
  total_plays: Type.Integer({ minimum: 1, examples: [12] })
}, { $id: 'DegradeResult', title: 'DegradeResult', description: 'The play, recorded and rendered.', additionalProperties: false })
export type DegradeResult = Static<typeof DegradeResultSchema>

/** For the OpenAPI document: the fifth play of segment 3 of a 48-segment track. */
export const degradeResultExample: DegradeResult = {
  success: true, filename: 'ephemeral-demo.wav', segment_index: 3, play_count: 5, segment_degradation: 5, overall_degradation: 1.5833, total_plays: 76
}
