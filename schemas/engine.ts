import { Type, type Static } from 'typebox'

export const EngineSchema = Type.Object({
  id: Type.String({ description: 'The id tracks name it by (`engine`)', examples: ['tape'] }),
  name: Type.String({ examples: ['Tape'] }),
  description: Type.String({ description: 'What it sounds like', examples: ['The top end goes first…'] }),
  measure: Type.String({ description: 'The engine\'s own measure of wear, which its tests check rises with plays', examples: ['the share of energy above 4 kHz lost'] }),
  version: Type.Integer({ minimum: 1, description: 'Changes whenever its rendering does' }),
  params: Type.Object({}, { additionalProperties: true, description: 'JSON Schema of its parameters (every one with a default, a minimum and a maximum)' }),
  defaults: Type.Record(Type.String(), Type.Number(), { description: 'Every parameter\'s default' })
}, { $id: 'Engine', title: 'Engine', additionalProperties: false })
export type Engine = Static<typeof EngineSchema>

export const EngineListSchema = Type.Array(Type.Ref('Engine'), { $id: 'EngineList', title: 'EngineList' })

export const engineListExample: Engine[] = [{
  id: 'dropout',
  name: 'Dropout',
  description: 'Grains of the segment drop out to silence, more with every play, each with a 2 ms fade; the share silenced is exactly the wear.',
  measure: 'the share of the segment silenced, exactly the wear',
  version: 1,
  params: { type: 'object', properties: {} },
  defaults: {}
}]
