import t0, { test } from 'tap'
import pg from 'pg'
import { startPostgres } from '../../postgres.js'
import { migrate } from '../../../lib/postgres/migrate.js'
import { migrations } from '../../../lib/postgres/migrations/index.js'

const server = await startPostgres()
t0.teardown(server.stop)

test('a fresh database is brought to the newest schema once, even by nodes that start together', async (t) => {
  const url = await server.database()
  const nodes = [0, 1, 2].map(() => new pg.Pool({ connectionString: url, max: 2 }))
  t.teardown(async () => { await Promise.all(nodes.map(async p => await p.end())) })
  const results = await Promise.all(nodes.map(async p => await migrate(p)))
  const newest = Math.max(...migrations.map(m => m.version))
  t.same(results.map(r => r.to), [newest, newest, newest])
  t.equal(results.filter(r => r.from === 0).length, 1, 'one node migrated, the others found it done')
  const { rows } = await nodes[0]!.query('SELECT version FROM schema_version ORDER BY version')
  t.same(rows.map(r => r.version), migrations.map(m => m.version), 'each migration recorded once')
  t.same(await migrate(nodes[1]!), { from: newest, to: newest }, 'running again changes nothing')
})

test('a database newer than the service is refused in words, and a failed migration leaves no trace', async (t) => {
  const url = await server.database()
  const pool = new pg.Pool({ connectionString: url })
  t.teardown(async () => await pool.end())
  await migrate(pool)
  await pool.query("INSERT INTO schema_version (version, name) VALUES (999, 'from the future')")
  await t.rejects(migrate(pool), /schema is version 999, newer than this service knows/)

  const url2 = await server.database()
  const pool2 = new pg.Pool({ connectionString: url2 })
  t.teardown(async () => await pool2.end())
  await t.rejects(migrate(pool2, [...migrations, { version: 1000, name: 'broken', sql: 'CREATE TABLE broken (x int); SELECT no_such_function()' }]), /migration 1000 \(broken\) failed: function no_such_function\(\) does not exist/)
  const { rows } = await pool2.query("SELECT to_regclass('broken') AS t, (SELECT max(version) FROM schema_version) AS v")
  t.same(rows[0], { t: null, v: 1 }, 'the broken migration rolled back whole; the earlier ones stay')
})
