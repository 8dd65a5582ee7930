import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponse } from '../schemas/responses.js'
import { loadPublicFiles } from './public-files.js'

const player: FastifyPluginAsyncTypebox = async (fastify) => {
  // Read once at boot: a few kilobytes, served from memory.
  const files = await loadPublicFiles(['player.html', 'player.css', 'player.js'])

  const html = { description: 'The player page', content: { 'text/html': { schema: Type.String() } } }
  const asset = { description: 'A script or style sheet of the player', content: { 'text/javascript': { schema: Type.String() }, 'text/css': { schema: Type.String() } } }
  const notModified = { description: 'Not modified', type: 'null' }

  fastify.get('/player', {
    schema: {
      operationId: 'getPlayer',
      tags: ['player'],
      summary: 'The built-in web player',
      description: 'A page that lists the tracks, plays them over /stream, draws their waveform from /peaks, reports each segment heard to /degrade and follows other listeners through /events.',
      response: { 200: html, 304: notModified }
    }
  }, async (request, reply) => await files.serve('player.html', request.headers['if-none-match'], reply))

  // A convenience for people typing the address, not part of the API: OpenAPI tools reject paths ending in a slash.
  fastify.get('/player/', {
    schema: {
      hide: true,
      operationId: 'redirectToPlayer',
      summary: 'The player, under its other spelling',
      description: 'Redirects to /player, where the page\'s relative links resolve.',
      response: { 308: { description: 'To /player', type: 'null' } }
    }
  }, async (_request, reply) => await reply.redirect('../player', 308))

  fastify.get('/player/:asset', {
    schema: {
      operationId: 'getPlayerAsset',
      tags: ['player'],
      summary: 'A script or style sheet of the player',
      params: Type.Object({ asset: Type.String({ maxLength: 64, description: '`player.js` or `player.css`', examples: ['player.js'] }) }),
      description: 'The page loads these from the relative URLs player/player.js and player/player.css; anything else below /player is a 404.',
      response: {
        200: asset,
        304: notModified,
        404: errorResponse('No such file', { statusCode: 404, error: 'Not Found', message: 'Route GET /player/nope.js not found', code: 'EA_ROUTE_NOT_FOUND' })
      }
    }
  }, async (request, reply) => {
    const name = request.params.asset
    // The page itself lives at /player; only its scripts and styles are below it.
    if (name === 'player.html' || !files.has(name)) return reply.callNotFound()
    return await files.serve(name, request.headers['if-none-match'], reply)
  })
}

export default player
