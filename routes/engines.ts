import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ENGINE_INFOS } from '../lib/engines/index.js'
import { jsonResponse } from '../schemas/responses.js'
import { engineListExample, type Engine } from '../schemas/engine.js'

/** The decay engines a track may wear out with, and their parameters. */
const engines: FastifyPluginAsyncTypebox = async (fastify) => {
  // Plain JSON of each engine, built once: TypeBox schemas carry symbols the serializer need not see.
  const list: Engine[] = ENGINE_INFOS.map(e => ({
    id: e.id, name: e.name, description: e.description, measure: e.measure, version: e.version, params: JSON.parse(JSON.stringify(e.params)), defaults: { ...e.defaults }
  }))
  fastify.get('/engines', {
    schema: {
      operationId: 'listEngines',
      tags: ['tracks'],
      summary: 'The decay engines',
      description: 'Every way a track can wear out, with the JSON Schema of its parameters and their defaults. A track\'s engine is chosen at upload (`PUT /tracks/{filename}?engine=`), by `DECAY_ENGINE` for files found on disk, and changed with `PATCH /tracks/{filename}`.',
      response: { 200: jsonResponse('Every engine', 'EngineList', engineListExample) }
    }
  }, async () => list)
}

export default engines
