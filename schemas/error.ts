import { Type, type Static } from 'typebox'

/** The one shape every error reply has. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599, description: 'The HTTP status, repeated' }),
  error: Type.String({ description: 'The status text, e.g. "Not Found"' }),
  message: Type.String({ description: 'What went wrong, for a person to read' }),
  code: Type.Optional(Type.String({ description: 'A stable machine-readable code, e.g. EA_TRACK_NOT_FOUND' }))
}, { $id: 'Error', title: 'Error', additionalProperties: false })

export type ErrorBody = Static<typeof ErrorSchema>
