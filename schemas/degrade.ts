import { Type, type Static } from 'typebox'

export const DegradeRequestSchema = Type.Object({
  segment_index: Type.Integer({ minimum: 0, description: 'The segment the player just played (0-based)', examples: [3] })
}, { $id: 'DegradeRequest', title: 'DegradeRequest', additionalProperties: true, examples: [{ segment_index: 3 }] })
export type DegradeRequest = Static<typeof DegradeRequestSchema>

export const DegradeResultSchema = Type.Object({
  success: Type.Literal(true),
  filename: Type.String({ examples: ['ephemeral-demo.wav'] }),
  segment_index: Type.Integer({ minimum: 0, examples: [3] }),
  play_count: Type.Integer({ minimum: 1, description: 'Plays of the segment, this one included', examples: [5] }),
  segment_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Percent of the segment now silenced', examples: [5] }),
  overall_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Percent of the track now silenced (mean over segments)', examples: [0.1042] }),
  total_plays: Type.Integer({ minimum: 1, examples: [12] })
}, { $id: 'DegradeResult', title: 'DegradeResult', additionalProperties: false })
export type DegradeResult = Static<typeof DegradeResultSchema>
