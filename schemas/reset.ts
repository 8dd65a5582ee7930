import { Type, type Static } from 'typebox'

export const ResetResultSchema = Type.Object({
  success: Type.Literal(true),
  filename: Type.String({ examples: ['ephemeral-demo.wav'] }),
  total_plays: Type.Integer({ minimum: 0, description: 'Plays after the reset: 0, or the counts adopted from the Flask service', examples: [0] }),
  overall_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Percent of the track silenced after the reset', examples: [0] })
}, { $id: 'ResetResult', title: 'ResetResult', additionalProperties: false })
export type ResetResult = Static<typeof ResetResultSchema>

export const resetResultExample: ResetResult = { success: true, filename: 'ephemeral-demo.wav', total_plays: 0, overall_degradation: 0 }

export const AdminHeaders = Type.Object({
  authorization: Type.Optional(Type.String({ description: '`Bearer <ADMIN_TOKEN>`', examples: ['Bearer change-me'] }))
})
