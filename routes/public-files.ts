import type { FastifyReply } from 'fastify'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { evaluatePreconditions } from '../lib/conditional.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8'
}

// Only our own scripts, styles and API: no inline code, nothing from elsewhere.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "img-src 'self' data:", "media-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "object-src 'none'"
].join('; ')

/** public/ next to the sources (tests, tsx) or next to dist/ (the built server). */
function publicDir (first: string): string {
  const candidates = ['../public/', '../../public/'].map(p => fileURLToPath(new URL(p, import.meta.url)))
  const found = candidates.find(dir => existsSync(`${dir}${first}`))
  if (found === undefined) throw new Error(`${first} is missing: looked in ${candidates.join(' and ')}`)
  return found
}

export interface PublicFiles {
  has: (name: string) => boolean
  /** Send a file with its ETag (or a 304 when the client has it); pages also get the content security policy. */
  serve: (name: string, ifNoneMatch: string | undefined, reply: FastifyReply) => Promise<FastifyReply>
}

interface LoadedFile { body: Buffer, etag: string, type: string, page: boolean }

async function loadFile (name: string, path: string): Promise<LoadedFile> {
  const type = TYPES[extname(name)]
  if (type === undefined) throw new Error(`${name}: not a page, script or style sheet`)
  const body = await readFile(path)
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, type, page: name.endsWith('.html') }
}

/**
 * A built-in page's files (HTML, CSS, JS in public/), read once at boot: a few
 * kilobytes, served from memory, revalidated on every load so a new version
 * shows at once while an unchanged file costs a 304.
 */
export async function loadPublicFiles (names: readonly string[]): Promise<PublicFiles> {
  const dir = publicDir(names[0] ?? '')
  const files = new Map<string, LoadedFile>()
  for (const name of names) files.set(name, await loadFile(name, `${dir}${name}`))
  return serving(files)
}

/**
 * Files of installed packages a page uses (uPlot's script and style sheet),
 * by the name they are served under: resolved as Node resolves imports, so
 * from the sources and from dist/ alike, and read once at boot as public/'s.
 */
export async function loadPackageFiles (specifiers: Readonly<Record<string, string>>): Promise<PublicFiles> {
  const require = createRequire(import.meta.url)
  const files = new Map<string, LoadedFile>()
  for (const [name, specifier] of Object.entries(specifiers)) files.set(name, await loadFile(name, require.resolve(specifier)))
  return serving(files)
}

function serving (files: ReadonlyMap<string, LoadedFile>): PublicFiles {
  return {
    has: name => files.has(name),
    async serve (name, ifNoneMatch, reply) {
      const file = files.get(name)
      if (file === undefined) throw new Error(`${name} is not one of the loaded files`)
      reply
        .header('etag', file.etag)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
      if (file.page) reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('referrer-policy', 'no-referrer')
      if (evaluatePreconditions({ ifNoneMatch }, { etag: file.etag, lastModified: new Date(0) }) === 'not-modified') {
        return await reply.code(304).send()
      }
      return await reply.type(file.type).send(file.body)
    }
  }
}
