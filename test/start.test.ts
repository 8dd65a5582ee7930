import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

// `npm start` runs scripts/build-if-changed.mjs before `node dist/server.js`.
// The script finds the project from its own location, so it runs here as a
// copy inside temporary trees: tiny ones with a fake tsc that records its
// calls, and one copy of the real sources compiled by the real tsc.
const root = fileURLToPath(new URL('../', import.meta.url))
const SCRIPT = join('scripts', 'build-if-changed.mjs')
const STAMP = join('dist', '.build-stamp')
const run = promisify(execFile)

const FAKE_TSC = `const { appendFileSync, mkdirSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')
const root = join(__dirname, '..', '..', '..')
appendFileSync(join(root, 'tsc-calls'), process.argv.slice(2).join(' ') + '\\n')
if (process.env.FAKE_TSC_FAIL === '1') { console.error('error TS2304: Cannot find name'); process.exit(2) }
mkdirSync(join(root, 'dist'), { recursive: true })
writeFileSync(join(root, 'dist', 'server.js'), '')
`

/** An hour ago: every file of a new tree starts there, so any change is newer. */
const past = new Date(Date.now() - 3_600_000)

async function setTimes (path: string, time: Date): Promise<void> {
  if ((await stat(path)).isDirectory()) {
    for (const name of await readdir(path)) await setTimes(join(path, name), time)
  }
  await utimes(path, time, time)
}

/** What tsconfig.build.json compiles, plus the files that decide how. */
const buildConfig = JSON.parse(await readFile(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
const sources = [...buildConfig.include, 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']
const notSources = ['test/a.test.ts', 'bench/run.mjs', 'public/player.html', 'README.md', 'scripts/export-openapi.mjs']

/** A tiny project: every source (folders with a nested file), files that are not sources, the script and a fake tsc. */
async function fakeProject (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-start-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const files = [...sources.map(s => s.includes('.') ? s : `${s}/nested/x.ts`), ...notSources]
  for (const file of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true })
    await writeFile(join(dir, file), '// source\n')
  }
  await mkdir(join(dir, 'node_modules', 'typescript', 'bin'), { recursive: true })
  await writeFile(join(dir, 'node_modules', 'typescript', 'package.json'), '{ "name": "typescript" }\n')
  await writeFile(join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), FAKE_TSC)
  await mkdir(join(dir, 'scripts'), { recursive: true })
  await copyFile(join(root, SCRIPT), join(dir, SCRIPT))
  await setTimes(dir, past)
  return dir
}

/** Run the start script as `npm start` does; report whether it compiled. */
async function start (dir: string, env: Record<string, string> = {}) {
  const calls = async () => (await readFile(join(dir, 'tsc-calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length
  const before = await calls()
  const { stderr } = await run(process.execPath, [join(dir, SCRIPT)], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } })
  const stamp = await stat(join(dir, STAMP), { bigint: true }).catch(() => undefined)
  return { compiled: await calls() > before, stderr, stamp: stamp?.mtimeNs }
}

/** Back to a build an hour ago that nothing has changed since. */
async function builtAnHourAgo (dir: string): Promise<void> {
  await setTimes(dir, past)
  const built = new Date(past.getTime() + 60_000)
  await utimes(join(dir, STAMP), built, built)
}

t.test('package.json: npm start runs the script, then the server', async t => {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))
  t.equal(pkg.scripts.start, `node ${SCRIPT} && node dist/server.js`)
})

t.test('the first start compiles with tsconfig.build.json; a second start does not compile again', async t => {
  const dir = await fakeProject(t)
  const first = await start(dir)
  t.ok(first.compiled)
  t.match(first.stderr, /compiling/)
  t.equal((await readFile(join(dir, 'tsc-calls'), 'utf8')).trim(), `-p ${join(dir, 'tsconfig.build.json')}`)
  const second = await start(dir)
  t.notOk(second.compiled)
  t.equal(second.stderr, '', 'says nothing')
  t.equal(second.stamp, first.stamp, 'the stamp is left as it was')
})

t.test('a change to any source compiles again; a change elsewhere does not', async t => {
  const dir = await fakeProject(t)
  t.ok((await start(dir)).compiled)
  for (const source of sources) {
    await builtAnHourAgo(dir)
    await writeFile(join(dir, source.includes('.') ? source : `${source}/nested/x.ts`), '// changed\n')
    t.ok((await start(dir)).compiled, `${source} changed`)
  }
  await builtAnHourAgo(dir)
  for (const file of notSources) await writeFile(join(dir, file), '// changed\n')
  t.notOk((await start(dir)).compiled, `${notSources.join(', ')} changed`)
})

t.test('a file added to or removed from a source folder compiles again', async t => {
  const dir = await fakeProject(t)
  t.ok((await start(dir)).compiled)
  await builtAnHourAgo(dir)
  await writeFile(join(dir, 'lib', 'new.ts'), '// new\n')
  await utimes(join(dir, 'lib', 'new.ts'), past, past)
  t.ok((await start(dir)).compiled, 'added (the file itself old, as a copy that keeps times leaves it)')
  await builtAnHourAgo(dir)
  await unlink(join(dir, 'routes', 'nested', 'x.ts'))
  t.ok((await start(dir)).compiled, 'removed')
})

t.test('a failed compile leaves no stamp, so the next start compiles again', async t => {
  const dir = await fakeProject(t)
  await t.rejects(start(dir, { FAKE_TSC_FAIL: '1' }))
  t.equal(await stat(join(dir, STAMP)).catch(() => undefined), undefined)
  const next = await start(dir)
  t.ok(next.compiled)
  t.not(next.stamp, undefined)
})

t.test('the real sources: the first start builds dist/server.js with the real tsc, the second reuses it', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-start-real-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const entry of [...sources, 'package.json', SCRIPT]) await cp(join(root, entry), join(dir, entry), { recursive: true })
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'))
  const first = await start(dir)
  t.match(first.stderr, /compiling/)
  t.ok((await stat(join(dir, 'dist', 'server.js'))).isFile())
  t.not(first.stamp, undefined)
  const second = await start(dir)
  t.equal(second.stderr, '')
  t.equal(second.stamp, first.stamp)
})
