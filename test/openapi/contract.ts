/**
 * Reading the OpenAPI document in tests: its operations, and a check that a
 * real response is one the document declares (status, media type, body).
 */
import SwaggerParser from '@apidevtools/swagger-parser'
import { Compile } from 'typebox/compile'

export interface JsonSchema { [keyword: string]: unknown }

export interface MediaObject { schema?: JsonSchema, example?: unknown, examples?: unknown }

export interface ResponseObject { description?: string, headers?: Record<string, { description?: string, schema?: JsonSchema }>, content?: Record<string, MediaObject> }

export interface ParameterObject { name: string, in: string, required?: boolean, description?: string, schema?: JsonSchema }

export interface OperationObject {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  parameters?: ParameterObject[]
  requestBody?: { required?: boolean, content?: Record<string, MediaObject> }
  responses?: Record<string, ResponseObject>
}

export interface OpenApiDocument {
  openapi: string
  info: { title: string, version: string }
  tags?: Array<{ name: string, description?: string }>
  paths: Record<string, Record<string, OperationObject>>
  components?: { schemas?: Record<string, JsonSchema> }
}

export interface Operation { method: string, path: string, operationId: string, operation: OperationObject }

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

export function operationsOf (doc: OpenApiDocument): Operation[] {
  const found: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      found.push({ method, path, operationId: operation.operationId ?? `${method} ${path}`, operation })
    }
  }
  return found
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaTypeOf (contentType: string | null): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined
}

/**
 * The schema with every object schema closed: an object that lists its
 * properties and says nothing of others accepts no others. A body that passes
 * has no field the document does not declare.
 */
export function closed (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed)
  if (schema === null || typeof schema !== 'object') return schema
  const out: JsonSchema = {}
  for (const [key, value] of Object.entries(schema)) {
    // Examples are data, not schemas: left as they are.
    out[key] = key === 'example' || key === 'examples' || key === 'enum' || key === 'const' || key === 'default' ? value : closed(value)
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false
  return out
}

/** Checks real responses against the document; collects what it saw, and every mismatch. */
export class ResponseChecker {
  /** `operationId status` of every response checked. */
  readonly seen = new Set<string>()
  readonly problems: string[] = []
  private readonly byRoute = new Map<string, Operation>()

  readonly doc: OpenApiDocument

  private constructor (doc: OpenApiDocument) {
    this.doc = doc
    for (const op of operationsOf(doc)) this.byRoute.set(`${op.method.toUpperCase()} ${op.path}`, op)
  }

  /** `doc` is dereferenced first (on a copy), so every schema is whole. */
  static async of (doc: OpenApiDocument): Promise<ResponseChecker> {
    const whole = await SwaggerParser.dereference(structuredClone(doc) as never) as unknown as OpenApiDocument
    return new ResponseChecker(whole)
  }

  operation (method: string, schemaPath: string): Operation | undefined {
    return this.byRoute.get(`${method.toUpperCase()} ${schemaPath}`)
  }

  /** Record a response; `body` is its text, or undefined when it was not read (binary, event streams). */
  check (method: string, schemaPath: string, status: number, contentType: string | null, body: string | undefined): void {
    const op = this.operation(method, schemaPath)
    const where = `${method} ${schemaPath} → ${status}`
    if (op === undefined) { this.problems.push(`${where}: no such operation in the document`); return }
    this.seen.add(`${op.operationId} ${status}`)
    const declared = op.operation.responses?.[String(status)]
    if (declared === undefined) { this.problems.push(`${where}: status not documented`); return }
    const media = mediaTypeOf(contentType)
    if (declared.content === undefined) {
      if (body !== undefined && body !== '') this.problems.push(`${where}: documented without a body, got ${JSON.stringify(body.slice(0, 80))}`)
      return
    }
    const documented = media === undefined ? undefined : declared.content[media]
    if (documented === undefined) { this.problems.push(`${where}: media type ${String(contentType)} not documented (${Object.keys(declared.content).join(', ')})`); return }
    if (media !== 'application/json' || body === undefined) return
    const schema = closed(documented.schema ?? {}) as Parameters<typeof Compile>[0]
    let value: unknown
    try { value = JSON.parse(body) } catch { this.problems.push(`${where}: not JSON: ${body.slice(0, 80)}`); return }
    const validator = Compile(schema)
    if (!validator.Check(value)) {
      const errors = [...validator.Errors(value)].map(e => `${e.instancePath || '/'} ${e.message}`)
      this.problems.push(`${where}: body does not match the document: ${errors.join('; ')}`)
    }
  }
}
