import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import SwaggerParser from '@apidevtools/swagger-parser'
import Fastify from 'fastify'
import { app as ephemeralAudio, fastifyOptions } from '../../app.js'
import { buildTestApp } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { openapiJson } from '../../plugins/external/swagger.js'
import { ResponseChecker, operationsOf, type JsonSchema, type OpenApiDocument } from './contract.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const run = promisify(execFile)

const { app } = await buildTestApp(t)
const doc = app.swagger() as unknown as OpenApiDocument
const operations = operationsOf(doc)
const byId = new Map(operations.map(op => [op.operationId, op]))

t.test('the committed openapi.json is the document the code generates', async t => {
  const committed = await readFile(join(root, 'openapi.json'), 'utf8')
  t.equal(committed, openapiJson(app), 'openapi.json is out of date: run `npm run openapi:export` and commit it')
})

t.test('the document depends on the code only, not on the configuration', async t => {
  const other = await buildTestApp(t, { env: { SEGMENT_DURATION: 2, DEGRADATION_RATE: 5, DEGRADE_RATE_LIMIT: 0, BODY_LIMIT: 4096, CORS_ORIGIN: 'https://example.org' } })
  t.equal(openapiJson(other.app), openapiJson(app))
})

t.test('GET /openapi.json, GET /openapi.yaml and /docs serve the document', async t => {
  const json = await app.inject('/openapi.json')
  t.equal(json.statusCode, 200)
  t.match(json.headers['content-type'], /^application\/json/)
  t.same(json.json(), doc)

  const yaml = await app.inject('/openapi.yaml')
  t.equal(yaml.statusCode, 200)
  t.match(yaml.headers['content-type'], /^application\/yaml/)
  t.equal(yaml.body, app.swagger({ yaml: true }))
  t.match(yaml.body, /^openapi: 3\.1\.0$/m)
  t.match(yaml.body, /operationId: degradeSegment/)

  const docs = await app.inject('/docs')
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-type'], /^text\/html/)
  t.match(docs.body, /swagger-ui/i)
  const initializer = await app.inject('/docs/static/swagger-initializer.js')
  t.equal(initializer.statusCode, 200, 'the reference page loads its script')
  t.same((await app.inject('/docs/json')).json(), doc, 'the reference reads the same document')
})

t.test('the service routes are not in the document they serve', async t => {
  for (const path of ['/openapi.json', '/openapi.yaml', '/docs', '/docs/json']) t.notOk(path in doc.paths, path)
})

t.test('DOCS_ENABLED=false turns the document and the reference off, and nothing else', async t => {
  const locked = await buildTestApp(t, { env: { DOCS_ENABLED: false } })
  for (const url of ['/openapi.json', '/openapi.yaml', '/docs', '/docs/json', '/docs/static/swagger-initializer.js']) {
    const res = await locked.app.inject(url)
    t.equal(res.statusCode, 404, url)
    t.equal(res.json().code, 'EA_ROUTE_NOT_FOUND', url)
  }
  t.equal((await locked.app.inject('/')).statusCode, 200)
  t.equal((await locked.app.inject('/tracks')).statusCode, 200)
})

t.test('a standard validator (@apidevtools/swagger-parser) accepts the document', async t => {
  const api = await SwaggerParser.validate(structuredClone(doc) as never)
  t.equal(api.info.title, 'Ephemeral Audio')
  t.equal((api as { openapi?: string }).openapi, '3.1.0')

  // The validator would see it: a dangling $ref is refused.
  const broken = structuredClone(doc)
  const stats = broken.paths['/stats/{filename}']?.get?.responses?.['200']?.content?.['application/json']
  t.ok(stats, 'getTrackStats has a JSON 200')
  if (stats !== undefined) stats.schema = { $ref: '#/components/schemas/Missing' }
  await t.rejects(SwaggerParser.validate(broken as never), /Missing/)
})

t.test('@redocly/cli lint with the recommended rules (redocly.yaml) finds no problem', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-lint-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'openapi.json')
  await writeFile(file, openapiJson(app))
  const { stdout } = await run(process.execPath, [
    join(root, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js'), 'lint', file, '--format=json', `--config=${join(root, 'redocly.yaml')}`
  ], {
    // Offline and quiet: no usage report, no update check.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    timeout: 60_000
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  const report = JSON.parse(stdout) as { totals: { errors: number, warnings: number }, problems: Array<{ ruleId: string, severity: string, message: string, location: Array<{ pointer: string }> }> }
  const problems = report.problems.map(p => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`)
  t.same(problems, [], 'no problem reported')
  t.equal(report.totals.errors, 0, 'zero errors')
  t.equal(report.totals.warnings, 0, 'zero warnings')
})

t.test('every operation is documented for a client author', async t => {
  const declaredTags = new Map((doc.tags ?? []).map(tag => [tag.name, tag.description]))
  const ids = operations.map(op => op.operationId)
  t.same(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'operationIds are unique')
  for (const { method, path, operationId, operation } of operations) {
    t.test(`${method.toUpperCase()} ${path}`, async t => {
      t.match(operationId, /^[a-z][a-zA-Z0-9]*$/, 'a camelCase operationId a client can name a method after')
      t.ok(operation.summary, 'summary')
      t.ok(operation.description, 'description')
      t.ok(operation.tags?.length, 'tags')
      for (const tag of operation.tags ?? []) t.ok(declaredTags.get(tag), `tag ${tag} is declared with a description`)
      for (const p of operation.parameters ?? []) {
        t.ok(p.description, `parameter ${p.in} ${p.name} is described`)
        t.ok(p.schema, `parameter ${p.in} ${p.name} has a schema`)
        if (p.in === 'path') t.ok(hasConstraint(p.schema), `path parameter ${p.name} states its constraints`)
      }
      for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) {
        t.ok(media.schema, `request body ${type} has a schema`)
        t.not(media.example, undefined, `request body ${type} has an example`)
      }
      const responses = Object.entries(operation.responses ?? {})
      t.ok(responses.some(([status]) => status.startsWith('2')), 'a success response')
      for (const [status, response] of responses) {
        t.ok(response.description && response.description !== 'Default Response', `${status} says what it means`)
        for (const [type, media] of Object.entries(response.content ?? {})) {
          t.ok(media.schema, `${status} ${type} has a schema`)
          if (type === 'application/json') t.not(media.example, undefined, `${status} ${type} has an example`)
        }
      }
    })
  }
})

t.test('shared schemas are named components, referenced and never copied inline', async t => {
  const schemas = doc.components?.schemas ?? {}
  for (const name of ['Track', 'TrackList', 'TrackStats', 'ServiceInfo', 'DegradeRequest', 'DegradeResult', 'Error']) {
    t.ok(schemas[name], `components.schemas.${name}`)
  }
  t.same(Object.keys(schemas).filter(name => !/^[A-Z][A-Za-z0-9]*$/.test(name)), [], 'component names are type names (no def-0)')
  t.same(inlineTitled(doc.paths, '#/paths'), [], 'no schema under paths is an inline copy of a named one')
  const refOf = (id: string, status: string, type = 'application/json') => byId.get(id)?.operation.responses?.[status]?.content?.[type]?.schema?.$ref
  t.equal(refOf('listTracks', '200'), '#/components/schemas/TrackList')
  t.equal(refOf('getTrackStats', '200'), '#/components/schemas/TrackStats')
  t.equal(refOf('getTrackStats', '404'), '#/components/schemas/Error')
  t.equal(refOf('degradeSegment', '200'), '#/components/schemas/DegradeResult')
  t.equal(byId.get('degradeSegment')?.operation.requestBody?.content?.['application/json']?.schema?.$ref, '#/components/schemas/DegradeRequest')
})

t.test('the routes document every status they return, with the constraints of their input', async t => {
  const statuses = (id: string) => Object.keys(byId.get(id)?.operation.responses ?? {})
  t.same(statuses('getServiceInfo'), ['200'])
  t.same(statuses('listTracks'), ['200'])
  t.same(statuses('getTrackStats'), ['200', '400', '404', '422', '503'])
  t.same(statuses('streamTrack'), ['200', '206', '304', '400', '404', '412', '416', '422', '503'])
  t.same(statuses('streamTrackHead'), statuses('streamTrack'))
  t.same(statuses('degradeSegment'), ['200', '400', '404', '409', '413', '415', '422', '429', '503'])
  t.same(statuses('resetTrack'), ['200', '400', '401', '403', '404', '409', '422', '503'])

  const filename = byId.get('getTrackStats')?.operation.parameters?.find(p => p.name === 'filename')
  t.match(filename, { in: 'path', required: true, schema: { type: 'string', minLength: 5, maxLength: 200, pattern: String.raw`^[^/\\\x00]+\.[wW][aA][vV]$` } })
  t.match(doc.components?.schemas?.DegradeRequest, { required: ['segment_index'], properties: { segment_index: { type: 'integer', minimum: 0 } } })
})

t.test('the stream is documented as binary, with its Range and validator headers', async t => {
  for (const id of ['streamTrack', 'streamTrackHead']) {
    const op = byId.get(id)?.operation
    const headers = (op?.parameters ?? []).filter(p => p.in === 'header').map(p => p.name)
    t.same(headers, ['Range', 'If-Range', 'If-None-Match', 'If-Modified-Since', 'If-Match', 'If-Unmodified-Since'], `${id} request headers`)
    t.match(op?.responses?.['200']?.headers, { etag: {}, 'last-modified': {}, 'accept-ranges': {}, 'content-length': {} }, `${id} 200 headers`)
    t.match(op?.responses?.['206']?.headers, { etag: {}, 'content-range': {} }, `${id} 206 headers`)
    t.match(op?.responses?.['416']?.headers, { 'content-range': {} }, `${id} 416 headers`)
    t.match(op?.responses?.['304']?.headers, { etag: {} }, `${id} 304 headers`)
  }
  const get = byId.get('streamTrack')?.operation
  t.same(get?.responses?.['200']?.content, { 'audio/wav': { schema: { type: 'string', format: 'binary', description: 'The bytes of the WAV file' } } })
  t.same(Object.keys(get?.responses?.['206']?.content ?? {}), ['audio/wav', 'multipart/byteranges'])
  t.equal(get?.responses?.['304']?.content, undefined, '304 has no body')
  const head = byId.get('streamTrackHead')?.operation
  t.same(Object.values(head?.responses ?? {}).filter(r => r.content !== undefined), [], 'HEAD responses have no body')
  t.match(byId.get('degradeSegment')?.operation.responses?.['429']?.headers, { 'retry-after': {}, 'x-ratelimit-limit': {} })
})

t.test('JSON replies are serialised by their schemas: a field the document does not declare never leaves the service', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-serialise-'))
  const server = Fastify(fastifyOptions())
  t.teardown(async () => {
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })
  await mkdir(join(dir, 'audio'))
  await writeTestWav(join(dir, 'audio', 'a.wav'), {})
  await server.register(ephemeralAudio, { env: { AUDIO_DIR: join(dir, 'audio'), METADATA_DIR: join(dir, 'metadata'), DEMO_TRACK: false, LOG_LEVEL: 'silent', DEGRADE_RATE_LIMIT: 0 } })
  // Runs after every handler and error handler, before serialisation.
  server.addHook('preSerialization', async (_request, _reply, payload: unknown) => {
    const leak = (value: unknown) => value !== null && typeof value === 'object' ? { ...value, internal_path: dir } : value
    return Array.isArray(payload) ? payload.map(leak) : leak(payload)
  })
  await server.ready()
  const requests = [
    { url: '/' }, { url: '/tracks' }, { url: '/stats/a.wav' }, { url: '/stats/missing.wav' }, { url: '/stream/missing.wav' },
    { method: 'POST' as const, url: '/degrade/a.wav', payload: { segment_index: 0 } },
    { method: 'POST' as const, url: '/degrade/a.wav', payload: { segment_index: 99 } }
  ]
  for (const request of requests) {
    const res = await server.inject(request)
    t.ok(res.statusCode < 500, `${request.url} ${res.statusCode}`)
    t.notMatch(res.body, 'internal_path', `${request.method ?? 'GET'} ${request.url} ${res.statusCode}`)
  }
})

t.test('the response check of the client test refuses what the document does not declare', async t => {
  const checker = await ResponseChecker.of(doc)
  const json = 'application/json; charset=utf-8'
  const error = { statusCode: 404, error: 'Not Found', message: 'Track not found: x.wav', code: 'EA_TRACK_NOT_FOUND' }
  checker.check('GET', '/stats/{filename}', 404, json, JSON.stringify(error))
  checker.check('HEAD', '/stream/{filename}', 200, 'audio/wav', '')
  checker.check('GET', '/stream/{filename}', 206, 'multipart/byteranges; boundary=x', undefined)
  t.same(checker.problems, [], 'declared responses pass')
  t.same([...checker.seen], ['getTrackStats 404', 'streamTrackHead 200', 'streamTrack 206'])

  checker.check('GET', '/stats/{filename}', 404, json, JSON.stringify({ ...error, stack: 'at library.ts:204' }))
  checker.check('GET', '/stats/{filename}', 404, json, JSON.stringify({ statusCode: 404, error: 'Not Found' }))
  checker.check('GET', '/stats/{filename}', 500, json, '{}')
  checker.check('GET', '/stream/{filename}', 200, 'audio/mpeg', undefined)
  checker.check('GET', '/stream/{filename}', 304, json, '{}')
  checker.check('DELETE', '/tracks', 200, json, '[]')
  t.match(checker.problems, [
    /getTrackStats|\/stats.*404: body does not match.*stack/,
    /404: body does not match.*message/,
    /500: status not documented/,
    /media type audio\/mpeg not documented/,
    /304: documented without a body/,
    /DELETE \/tracks.*no such operation/
  ])
})

function hasConstraint (schema: JsonSchema | undefined): boolean {
  return schema !== undefined && ['pattern', 'enum', 'const', 'maxLength', 'minimum', 'maximum', 'format'].some(k => k in schema)
}

/** Pointers to object schemas under `node` that carry a title (our named schemas do) instead of being a $ref. */
function inlineTitled (node: unknown, pointer: string): string[] {
  if (node === null || typeof node !== 'object') return []
  const found: string[] = []
  const record = node as Record<string, unknown>
  if (typeof record.title === 'string' && record.type === 'object') found.push(`${pointer} (${record.title})`)
  for (const [key, value] of Object.entries(record)) {
    if (key === 'example' || key === 'examples') continue
    found.push(...inlineTitled(value, `${pointer}/${key}`))
  }
  return found
}
