// `npm start` runs this before `node dist/server.js`: compile only when a
// source file is newer than the last build, so a second start answers in
// well under a second instead of waiting 10 s for tsc. Node's own type
// stripping cannot run these sources as they are (parameter properties, and
// imports that name the compiled `.js` files).
import { execFileSync } from 'node:child_process'
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stamp = join(root, 'dist', '.build-stamp')
const sources = ['app.ts', 'server.ts', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'lib', 'plugins', 'routes', 'schemas']

function newest (path) {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return 0
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(stat.mtimeMs, ...readdirSync(path).map(name => newest(join(path, name))))
}

const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? -1
if (Math.max(...sources.map(s => newest(join(root, s)))) > built) {
  console.error('ephemeral-audio: sources changed since the last build; compiling…')
  // The stamp carries the time the compile started: a file saved during it is newer, and compiles next time.
  const started = new Date()
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
  writeFileSync(stamp, `${started.toISOString()}\n`)
  utimesSync(stamp, started, started)
}
