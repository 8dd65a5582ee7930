import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Type } from 'typebox'
import { AdminHeaders } from '../../schemas/reset.js'
import { errorExamples } from '../../schemas/error.js'
import { errorResponse, jsonResponse, retryLaterHeaders, wwwAuthenticateHeaders } from '../../schemas/responses.js'
import { restoreResultExample, type RestoreResult } from '../../schemas/backup.js'
import { createBackupStream, readBackup, type BackupEntry } from '../../lib/backup/index.js'
import { fileBodyValidator, rawBodyRoutes } from './raw-body.js'
import pkg from '../../package.json' with { type: 'json' }

const RESTORE_MAX_BYTES_FACTOR = 4

/**
 * The whole library as one archive, and back. A track's audio is a pure
 * function of its pristine copy, its identity and its counts: the archive
 * holds those, and a restore renders the audio again.
 */
const backup: FastifyPluginAsyncTypebox = async (fastify) => {
  const { tracks, config } = fastify
  const auth = {
    401: errorResponse('Missing or wrong admin token', errorExamples.unauthorized, wwwAuthenticateHeaders),
    403: errorResponse('Admin routes are disabled: ADMIN_TOKEN is not set', errorExamples.adminDisabled)
  }

  fastify.get('/admin/backup', {
    // A HEAD would build an archive to throw away.
    exposeHeadRoute: false,
    schema: {
      operationId: 'downloadBackup',
      tags: ['admin'],
      summary: 'Download a backup of the whole library (admin)',
      description: 'A `.tar.gz` of every track\'s pristine audio (`tracks/<name>`) and, last, `manifest.json`: schema version, service version, and per track its metadata (identity, play counts, baseline counts) with the size and SHA-256 of its file. Streamed; plays go on while it is written, and each track is taken as it is between two plays.',
      headers: AdminHeaders,
      security: [{ adminToken: [] }],
      response: {
        200: {
          description: 'The archive',
          headers: { 'content-disposition': Type.String({ examples: ['attachment; filename=ephemeral-audio-2026-12-02.tar.gz'] }) },
          content: { 'application/gzip': { schema: { type: 'string', format: 'binary', description: 'The .tar.gz archive' } } }
        },
        ...auth
      }
    }
  }, async (request, reply) => {
    async function * entries (): AsyncGenerator<BackupEntry> {
      for (const track of tracks.list()) {
        const snap = await tracks.snapshot(track)
        if (snap === undefined) continue
        yield { metadata: snap.metadata, size: snap.size, pristine: () => snap.pristine.createReadStream({ autoClose: true }) }
      }
    }
    const date = new Date().toISOString().slice(0, 10)
    request.log.info({ tracks: tracks.list().length }, 'backup requested')
    return await reply
      .type('application/gzip')
      .header('content-disposition', `attachment; filename=ephemeral-audio-${date}.tar.gz`)
      .send(createBackupStream(entries(), { serviceVersion: pkg.version }))
  })

  await rawBodyRoutes(fastify, scope => {
    scope.post('/admin/restore', {
      validatorCompiler: fileBodyValidator,
      schema: {
        operationId: 'restoreBackup',
        tags: ['admin'],
        summary: 'Restore a backup (admin)',
        description: 'The body is an archive from `GET /admin/backup`. It is checked whole before anything changes: a bad archive (wrong schema version, a checksum that does not match, an entry that leaves its folder, a link or a device, a name that is not a track name, a manifest that does not match its files, a truncated gzip) is a 422 naming the problem, and nothing is written. Then each track is restored with its identity and counts, its audio rendered from its pristine copy (at this service\'s DEGRADATION_RATE). `mode=merge` (the default) leaves tracks whose name exists alone and lists them; `mode=replace` replaces them.',
        headers: AdminHeaders,
        querystring: Type.Object({ mode: Type.Optional(Type.Union([Type.Literal('merge'), Type.Literal('replace')], { description: 'What to do with a track whose name exists: leave it (merge) or replace it', default: 'merge' })) }),
        body: { description: 'The .tar.gz archive', content: { 'application/gzip': { schema: { type: 'string', format: 'binary', examples: ['…'] } } } } as never,
        security: [{ adminToken: [] }],
        response: {
          200: jsonResponse('The tracks restored and the ones left alone', 'RestoreResult', restoreResultExample),
          ...auth,
          413: errorResponse('The archive unpacks to more than the service accepts', { statusCode: 413, error: 'Payload Too Large', message: 'Backup too large: it unpacks to more than 4294967296 bytes', code: 'EA_BACKUP_TOO_LARGE' }),
          422: errorResponse('Not a valid backup; nothing was changed', { statusCode: 422, error: 'Unprocessable Entity', message: 'Invalid backup: tracks/a.wav does not match its SHA-256 in manifest.json (checksum mismatch)', code: 'EA_BAD_BACKUP' }),
          503: errorResponse('The disk is full, read-only or not writable', errorExamples.diskFull, retryLaterHeaders)
        }
      }
    }, async (request): Promise<RestoreResult> => {
      const mode = request.query.mode ?? 'merge'
      const unpacked = await mkdtemp(join(config.metadataDir, '.restore-'))
      try {
        const { manifest, files } = await readBackup(request.raw, unpacked, { maxBytes: config.uploadMaxBytes * RESTORE_MAX_BYTES_FACTOR })
        const restored: string[] = []
        const skipped: string[] = []
        for (const { metadata } of manifest.tracks) {
          const done = await tracks.restore(metadata, files.get(metadata.filename) as string, mode)
          ;(done ? restored : skipped).push(metadata.filename)
        }
        request.log.warn({ restored: restored.length, skipped: skipped.length, mode }, 'backup restored')
        return { restored, skipped }
      } finally {
        await rm(unpacked, { recursive: true, force: true })
      }
    })
  })
}

export default backup
