import type pg from 'pg'
import { migrations, type Migration } from './migrations/index.js'

/** Any fixed 64-bit number: the lock every node takes while it migrates, so three nodes starting at once migrate once. */
const MIGRATION_LOCK = 0x4541_6d69_67 // "EAmig"

/**
 * Bring the database to the newest schema: versioned SQL, each migration in
 * its own transaction and recorded in `schema_version`. A database newer
 * than this code (a rollback of the service) is refused in words: running
 * old code on a newer schema could lose plays.
 */
export async function migrate (pool: pg.Pool, list: readonly Migration[] = migrations): Promise<{ from: number, to: number }> {
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())')
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')
      const from = rows[0]?.v ?? 0
      const newest = Math.max(0, ...list.map(m => m.version))
      if (from > newest) {
        throw new Error(`the database schema is version ${from}, newer than this service knows (${newest}): upgrade the service, or restore the database from before the upgrade`)
      }
      for (const m of [...list].sort((a, b) => a.version - b.version)) {
        if (m.version <= from) continue
        await client.query('BEGIN')
        try {
          await client.query(m.sql)
          await client.query('INSERT INTO schema_version (version, name) VALUES ($1, $2)', [m.version, m.name])
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK')
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`)
        }
      }
      return { from, to: Math.max(from, newest) }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  } finally {
    client.release()
  }
}
