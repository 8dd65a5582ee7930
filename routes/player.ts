import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Type } from 'typebox'
import { evaluatePreconditions } from '../lib/conditional.js'
import { errorResponse } from '../schemas/responses.js'

/** The player's files, read once at boot: a few kilobytes, served from memory. */
const ASSETS = {
  'player.html': 'text/html; charset=utf-8',
  'player.css': 'text/css; charset=utf-8',
  'player.js': 'text/javascript; charset=utf-8'
} as const
type AssetName = keyof typeof ASSETS

// Only our own scripts, styles and API: no inline code, nothing from elsewhere.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "img-src 'self' data:", "media-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "object-src 'none'"
].join('; ')

/** public/ next to the sources (tests, tsx) or next to dist/ (the built server). */
function publicDir (): string {
  const candidates = ['../public/', '../../public/'].map(p => fileURLToPath(new URL(p, import.meta.url)))
  const found = candidates.find(dir => existsSync(`${dir}player.html`))
  if (found === undefined) throw new Error(`the player's files are missing: looked in ${candidates.join(' and ')}`)
  return found
}

const player: FastifyPluginAsyncTypebox = async (fastify) => {
  const dir = publicDir()
  const files = new Map<AssetName, { body: Buffer, etag: string, type: string }>()
  for (const [name, type] of Object.entries(ASSETS) as Array<[AssetName, string]>) {
    const body = await readFile(`${dir}${name}`)
    files.set(name, { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, type })
  }

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
  }, async (request, reply) => await serve('player.html', request.headers['if-none-match'], reply))

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
    if (name === 'player.html' || !files.has(name as AssetName)) return reply.callNotFound()
    return await serve(name as AssetName, request.headers['if-none-match'], reply)
  })

  async function serve (name: AssetName, ifNoneMatch: string | undefined, reply: FastifyReply) {
    const file = files.get(name)!
    reply
      .header('etag', file.etag)
      // Revalidated on every load, so a new version shows at once; unchanged files cost a 304.
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
    if (name === 'player.html') reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('referrer-policy', 'no-referrer')
    if (evaluatePreconditions({ ifNoneMatch }, { etag: file.etag, lastModified: new Date(0) }) === 'not-modified') {
      return await reply.code(304).send()
    }
    return await reply.type(file.type).send(file.body)
  }
}

export default player
