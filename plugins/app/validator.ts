import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { TSchema } from 'typebox'

const INTEGER_TEXT = /^-?\d+$/

/**
 * TypeBox's validator, with one correction: it converts query and path
 * strings for integer fields by truncating ("2.5" passes as 2). A number
 * written with a fraction or an exponent is refused instead, so a client
 * learns that it asked for something the service does not do.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = (route) => {
  const validate = TypeBoxValidatorCompiler(route)
  const properties = (route.schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {}
  const integers = route.httpPart === 'body'
    ? []
    : Object.keys(properties).filter(key => properties[key]?.type === 'integer')
  if (integers.length === 0) return validate
  return (value: unknown) => {
    const input = value as Record<string, unknown> | undefined
    for (const key of integers) {
      const given = input?.[key]
      if (typeof given === 'string' && !INTEGER_TEXT.test(given)) {
        const error = { instancePath: `/${key}`, schemaPath: '#/type', keyword: 'type', params: {}, message: 'must be integer' }
        return { error: [error as unknown as FastifySchemaValidationError] }
      }
    }
    return validate(value)
  }
}
