import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { fsyncDir, removeStaleTempFiles, writeFileAtomic } from '../../lib/atomic-file.js'

t.test('writeFileAtomic creates, then replaces, leaving no temporary file', async t => {
  const dir = t.testdir()
  const path = join(dir, 'meta.json')
  await writeFileAtomic(path, '{"v":1}')
  t.equal(await readFile(path, 'utf8'), '{"v":1}')
  await writeFileAtomic(path, Buffer.from([0, 1, 2, 255]))
  t.same(await readFile(path), Buffer.from([0, 1, 2, 255]))
  t.same(await readdir(dir), ['meta.json'])
})

t.test('a reader racing the writers sees one whole version, never a torn or empty file', async t => {
  const dir = t.testdir()
  const path = join(dir, 'big.bin')
  const versions = Array.from({ length: 20 }, (_, i) => String(i).padStart(2, '0').repeat(128 * 1024))
  await writeFileAtomic(path, versions[0] ?? '')
  const writers = new AbortController()
  const seen = new Set<string>()
  const reader = (async () => {
    while (!writers.signal.aborted) {
      const text = await readFile(path, 'utf8')
      seen.add(versions.includes(text) ? 'whole' : `torn (${text.length} chars)`)
    }
  })()
  for (const version of versions) await writeFileAtomic(path, version)
  writers.abort()
  await reader
  t.same([...seen], ['whole'])
  t.equal(await readFile(path, 'utf8'), versions.at(-1))
  t.same(await readdir(dir), ['big.bin'])
})

t.test('concurrent writers to one path leave exactly one of their versions', async t => {
  const dir = t.testdir()
  const path = join(dir, 'count')
  const versions = Array.from({ length: 50 }, (_, i) => `version ${i}\n`.repeat(1000))
  await Promise.all(versions.map(async v => await writeFileAtomic(path, v)))
  t.ok(versions.includes(await readFile(path, 'utf8')))
  t.same(await readdir(dir), ['count'])
})

t.test('a failed write removes its temporary file, rethrows and keeps the old content', async t => {
  const dir = t.testdir({ target: { 'keep.txt': 'x' }, 'other.txt': 'old' })
  // Renaming a file over a non-empty folder fails after the temporary file is fully written.
  await t.rejects(writeFileAtomic(join(dir, 'target'), 'new'), { code: /^(EISDIR|ENOTEMPTY|EEXIST)$/ })
  t.same((await readdir(dir)).sort(), ['other.txt', 'target'])
  t.equal(await readFile(join(dir, 'target', 'keep.txt'), 'utf8'), 'x')
  await t.rejects(writeFileAtomic(join(dir, 'missing', 'f'), 'new'), { code: 'ENOENT' })
})

t.test('removeStaleTempFiles deletes only the temporary files writeFileAtomic names', async t => {
  const dir = t.testdir({
    '.meta.json.4242.0123456789ab.tmp': 'stale',
    '.seg-3.wav.1.ffffffffffff.tmp': 'stale',
    'notes.tmp': 'someone else\'s',
    '.meta.json.tmp': 'not ours',
    '.meta.json.4242.0123456789AB.tmp': 'not ours: upper-case hex',
    '.meta.json.pid.0123456789ab.tmp': 'not ours: no pid',
    'meta.json': 'live'
  })
  t.equal(await removeStaleTempFiles(dir), 2)
  t.same((await readdir(dir)).sort(), [
    '.meta.json.4242.0123456789AB.tmp', '.meta.json.pid.0123456789ab.tmp', '.meta.json.tmp', 'meta.json', 'notes.tmp'
  ])
  t.equal(await removeStaleTempFiles(dir), 0)
})

t.test('removeStaleTempFiles counts each file once when two clean-ups race', async t => {
  const files = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`.f${i}.1.${'a'.repeat(12)}.tmp`, '']))
  const dir = t.testdir(files)
  const counts = await Promise.all([removeStaleTempFiles(dir), removeStaleTempFiles(dir)])
  t.equal(counts[0] + counts[1], 200)
  t.same(await readdir(dir), [])
})

t.test('removeStaleTempFiles: a missing folder has nothing to clean, other errors surface', async t => {
  const dir = t.testdir({ 'a-file': 'x', '.f.1.000000000000.tmp': { inside: 'a folder, not a temp file' } })
  t.equal(await removeStaleTempFiles(join(dir, 'nope')), 0)
  await t.rejects(removeStaleTempFiles(join(dir, 'a-file')), { code: 'ENOTDIR' })
  await t.rejects(removeStaleTempFiles(dir), { code: /^(EISDIR|EPERM)$/ })
})

t.test('fsyncDir syncs an existing folder and reports a missing one', async t => {
  const dir = t.testdir()
  await mkdir(join(dir, 'sub'))
  await writeFile(join(dir, 'sub', 'f'), 'x')
  await t.resolves(fsyncDir(join(dir, 'sub')))
  await t.rejects(fsyncDir(join(dir, 'missing')), { code: 'ENOENT' })
})
