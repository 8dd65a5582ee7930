import { Type, type Static } from 'typebox'

export const RestoreResultSchema = Type.Object({
  restored: Type.Array(Type.String(), { description: 'Tracks restored, with their identity and counts', examples: [['ephemeral-demo.wav']] }),
  skipped: Type.Array(Type.String(), { description: 'Tracks left alone because their name exists (mode=merge)', examples: [[]] })
}, { $id: 'RestoreResult', title: 'RestoreResult', additionalProperties: false })
export type RestoreResult = Static<typeof RestoreResultSchema>

export const restoreResultExample: RestoreResult = { restored: ['ephemeral-demo.wav'], skipped: [] }
