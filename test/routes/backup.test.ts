import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { buildTestApp, listen } from '../helper.js'

const TOKEN = 'backup-token'
const admin = { authorization: `Bearer ${TOKEN}` }

/** What a client sees of every track; the bytes from 1 on, so that looking is not a listen (total_streams). */
async function snapshotOf (url: string) {
  const list = await (await fetch(`${url}/tracks`)).json() as Array<{ filename: string }>
  const out: Record<string, unknown> = { list }
  for (const { filename } of list) {
    const stats = await (await fetch(`${url}/stats/${filename}`)).json() as Record<string, unknown>
    delete stats.created_at
    out[filename] = { stats, bytes: Buffer.from(await (await fetch(`${url}/stream/${filename}`, { headers: { range: 'bytes=1-' } })).arrayBuffer()).toString('base64'), etag: (await fetch(`${url}/stream/${filename}`, { method: 'HEAD' })).headers.get('etag') }
  }
  return out
}

t.test('backup, then restore into a fresh service: the same tracks, counts and every byte of every stream', async t => {
  const first = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 3 }, 'b.wav': { frames: 8000, channels: 1, bitsPerSample: 24 } }, env: { ADMIN_TOKEN: TOKEN, DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 10 } })
  const url = await listen(first.app)
  for (const [name, segment, times] of [['a.wav', 0, 5], ['a.wav', 4, 2], ['b.wav', 1, 12]] as const) {
    for (let i = 0; i < times; i++) await fetch(`${url}/degrade/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })
  }
  // One track decays with another engine: a restore renders it with that engine (the repair when its metadata is lost).
  const patched = await fetch(`${url}/tracks/b.wav`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ engine: 'noise' }) })
  t.equal(patched.status, 200)
  const res = await fetch(`${url}/admin/backup`, { headers: admin })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'application/gzip')
  t.match(res.headers.get('content-disposition'), /^attachment; filename=ephemeral-audio-\d{4}-\d\d-\d\d\.tar\.gz$/)
  const archive = Buffer.from(await res.arrayBuffer())
  t.ok(gunzipSync(archive).includes(Buffer.from('manifest.json')), 'a gzip tar with its manifest')
  const before = await snapshotOf(url)

  const fresh = await buildTestApp(t, { env: { ADMIN_TOKEN: TOKEN, DEGRADATION_RATE: 10 } })
  const freshUrl = await listen(fresh.app)
  const restore = await fetch(`${freshUrl}/admin/restore`, { method: 'POST', headers: { ...admin, 'content-type': 'application/gzip' }, body: archive })
  t.equal(restore.status, 200)
  t.same(await restore.json(), { restored: ['a.wav', 'b.wav'], skipped: [] })
  t.same(await snapshotOf(freshUrl), before, '/tracks, /stats, ETags and every byte of /stream as the backed-up service served them')

  const again = await fetch(`${freshUrl}/admin/restore`, { method: 'POST', headers: admin, body: archive })
  t.same(await again.json(), { restored: [], skipped: ['a.wav', 'b.wav'] }, 'merge leaves existing tracks alone')
  await fetch(`${freshUrl}/degrade/a.wav`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"segment_index":2}' })
  const replaced = await fetch(`${freshUrl}/admin/restore?mode=replace`, { method: 'POST', headers: admin, body: archive })
  t.same(await replaced.json(), { restored: ['a.wav', 'b.wav'], skipped: [] })
  t.same(await snapshotOf(freshUrl), before, 'replace brings the backed-up state back')

  // And it survives a restart.
  await fresh.app.close()
  const restarted = await buildTestApp(t, { dirs: { audioDir: fresh.audioDir, metadataDir: fresh.metadataDir }, env: { DEGRADATION_RATE: 10 } })
  t.same(await snapshotOf(await listen(restarted.app)), before)
})

t.test('a bad archive is refused with 422 and nothing is written', async t => {
  const { app, audioDir, metadataDir } = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { ADMIN_TOKEN: TOKEN } })
  const url = await listen(app)
  const archive = Buffer.from(await (await fetch(`${url}/admin/backup`, { headers: admin })).arrayBuffer())
  const listing = async () => [...await readdir(audioDir), ...await readdir(metadataDir), ...await readdir(join(metadataDir, 'originals'))].sort()
  const files = await listing()
  const bytesBefore = await readFile(join(audioDir, 'a.wav'))
  for (const [what, body] of [['truncated', archive.subarray(0, archive.length - 40)], ['garbage', Buffer.from('not a gzip at all')], ['empty', Buffer.alloc(0)]] as const) {
    const res = await fetch(`${url}/admin/restore?mode=replace`, { method: 'POST', headers: admin, body })
    t.equal(res.status, 422, what)
    t.equal((await res.json() as { code: string }).code, 'EA_BAD_BACKUP', what)
    t.same(await listing(), files, `${what}: nothing written`)
  }
  t.same(await readFile(join(audioDir, 'a.wav')), bytesBefore)
  t.equal((await fetch(`${url}/admin/backup`)).status, 401, 'the backup needs the token')
})
