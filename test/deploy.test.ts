import t, { type Test } from 'tap'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { Value } from 'typebox/value'
import { EnvSchema } from '../schemas/env.js'

// No Docker engine runs where the tests do: check the files statically, lint
// the compose file with dclint, and run the Caddyfile in Debian's caddy.
const root = fileURLToPath(new URL('../', import.meta.url))
const read = async (name: string) => await readFile(join(root, name), 'utf8')
const run = promisify(execFile)

const defaults = Value.Create(EnvSchema) as Record<string, unknown>
/** Whether a variable's text (from .env or a compose default) is the schema's default. */
const isDefault = (text: string | undefined, value: unknown) =>
  text !== undefined && (typeof value === 'number' ? text !== '' && Number(text) === value : text === String(value))

/** A compose interpolation with a default: `${NAME:-fallback}`. */
const interpolation = (name: string, fallback = '') => `$\{${name}:-${fallback}}`

/** The final stage's ENV instruction as name → value. */
function imageEnv (dockerfile: string): Record<string, string> {
  const stage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  const env = /^ENV ((?:.*\\\n)*.*)$/m.exec(stage)?.[1] ?? ''
  return Object.fromEntries(env.replace(/\\\n/g, ' ').trim().split(/\s+/)
    .map(pair => pair.split('=', 2) as [string, string]).map(([k, v]) => [k, v.replace(/^"(.*)"$/, '$1')]))
}

/** Whether .dockerignore leaves a top-level path out of the build context (last matching rule wins). */
function ignored (rules: string[], path: string): boolean {
  let out = false
  for (const rule of rules) {
    const negated = rule.startsWith('!')
    const pattern = (negated ? rule.slice(1) : rule).replace(/\/$/, '')
    const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`)
    if (regex.test(path)) out = !negated
  }
  return out
}

const compose = parse(await read('docker-compose.yml'))
const dockerfile = await read('Dockerfile')

t.test('Dockerfile: Node 24 in both stages, pruned, non-root, health check on GET /, starts the same entry point as npm start', async t => {
  const pkg = JSON.parse(await read('package.json'))
  t.same(dockerfile.match(/^FROM \S+/gm), ['FROM node:24-bookworm-slim', 'FROM node:24-bookworm-slim'])
  t.match(dockerfile, /npm ci/)
  t.match(dockerfile, /npm prune --omit=dev/)
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /^HEALTHCHECK .*\n?.*127\.0\.0\.1:.*'\/'/m)
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[]
  t.same(cmd, ['node', 'dist/server.js'])
  t.match(pkg.scripts.start, new RegExp(`&& ${cmd.join(' ')}$`))
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)].map(m => m[1])
  for (const dir of ['lib', 'plugins', 'routes', 'schemas', 'public']) t.ok(copied.includes(dir), `copies ${dir}/`)
})

t.test('.dockerignore: the build context holds what the Dockerfile copies and nothing private or bulky', async t => {
  const rules = (await read('.dockerignore')).split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  for (const path of ['node_modules', 'audio', 'metadata', '.git', '.env', 'dist', 'coverage', '.tap', 'test-artifacts', 'test', 'bench']) {
    t.ok(ignored(rules, path), `leaves out ${path}`)
  }
  const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(m => m[1]!.split(/\s+/))
  t.ok(sources.length >= 10)
  for (const path of sources) t.notOk(ignored(rules, path), `keeps ${path}`)
})

t.test('docker-compose.yml: the API on named volumes, published on 127.0.0.1 only', async t => {
  t.same(Object.keys(compose.services).sort(), ['caddy', 'ephemeral-audio'])
  for (const [name, service] of Object.entries<Record<string, unknown>>(compose.services)) {
    t.notOk('build' in service && 'image' in service, `${name}: build or image, not both`)
  }
  const api = compose.services['ephemeral-audio']
  t.equal(api.build, '.')
  t.equal(api.restart, 'unless-stopped')
  t.notOk(api.profiles, 'runs without a profile')
  const fixed = imageEnv(dockerfile)
  const mounts = Object.fromEntries((api.volumes as string[]).map(v => v.split(':').reverse()))
  t.same(mounts, { [fixed.AUDIO_DIR!]: 'audio', [fixed.METADATA_DIR!]: 'metadata' })
  t.same(api.ports, [`127.0.0.1:${interpolation('PUBLISH_PORT', '5000')}:${fixed.PORT}`])
  t.same(Object.keys(compose.volumes).sort(), ['audio', 'caddy_config', 'caddy_data', 'metadata'])
})

t.test('docker-compose.yml: every variable of the service is either fixed or passed from .env with the service\'s default', async t => {
  const api = compose.services['ephemeral-audio']
  t.notOk(api.env_file, 'no env_file: it would pass AUDIO_DIR=./audio and the like into the container')
  const fixed = imageEnv(dockerfile)
  t.same(Object.keys(fixed).filter(k => k in defaults).sort(), ['AUDIO_DIR', 'BACKUP_DIR', 'HOST', 'METADATA_DIR', 'NODE_DIR', 'PORT', 'SHARED_DIR'])
  t.equal(api.environment.TRUST_PROXY, 'true', 'fixed by compose: behind Caddy or on 127.0.0.1, one proxy is in front')
  for (const name of Object.keys(defaults).filter(name => name !== 'TRUST_PROXY')) {
    if (name in fixed) {
      t.notOk(name in api.environment, `${name} is fixed by the image, not passed`)
      continue
    }
    const value = /^\$\{(\w+):-(.*)\}$/.exec(String(api.environment[name]))
    t.equal(value?.[1], name, `${name} is passed from .env`)
    t.ok(isDefault(value?.[2], defaults[name]), `${name} defaults to ${String(defaults[name])}`)
  }
  t.same(Object.keys(api.environment).filter(name => !(name in defaults)), [], 'passes nothing else')
})

t.test('docker-compose.yml: Caddy in front, behind the https profile, with its own volumes', async t => {
  const caddy = compose.services.caddy
  t.equal(caddy.image, 'caddy:2')
  t.same(caddy.profiles, ['https'])
  t.same(caddy.depends_on, ['ephemeral-audio'])
  t.equal(caddy.environment.DOMAIN, interpolation('DOMAIN'))
  t.same(caddy.volumes.sort(), ['./Caddyfile:/etc/caddy/Caddyfile:ro', 'caddy_config:/config', 'caddy_data:/data'])
  t.same(caddy.ports, ['0.0.0.0:80:80', '0.0.0.0:443:443', '0.0.0.0:443:443/udp'])
  t.equal(caddy.restart, 'unless-stopped')
})

t.test('docker-compose.yml: dclint reports no errors and no warnings', async t => {
  const { stdout } = await run(join(root, 'node_modules', '.bin', 'dclint'), ['docker-compose.yml', '-f', 'json'], { cwd: root })
  const [report] = JSON.parse(stdout) as Array<{ errorCount: number, warningCount: number, messages: unknown[] }>
  t.same(report?.messages, [])
  t.equal(report?.errorCount, 0)
  t.equal(report?.warningCount, 0)
})

t.test('the minimum Compose version is the same in docker-compose.yml and the README', async t => {
  const version = /Docker Compose v(\d+\.\d+) or newer/.exec(await read('docker-compose.yml'))?.[1]
  t.ok(version)
  t.match(await read('README.md'), `Docker Compose v${version} or newer`)
})

t.test('.env.example lists every variable of the service with its default, then those of docker compose', async t => {
  const example = Object.fromEntries((await read('.env.example')).split('\n')
    .filter(l => /^[A-Z_]+=/.test(l)).map(l => l.split('=', 2) as [string, string]))
  const composeOnly = ['DOMAIN', 'COMPOSE_PROFILES', 'PUBLISH_PORT']
  t.same(Object.keys(example).filter(k => !composeOnly.includes(k)).sort(), Object.keys(defaults).sort())
  for (const [name, value] of Object.entries(defaults)) t.ok(isDefault(example[name], value), `${name}=${String(value)}`)
  const text = await read('docker-compose.yml')
  for (const name of composeOnly) t.ok(name in example, `lists ${name}`)
  t.match(text, interpolation('DOMAIN'))
  t.match(text, interpolation('PUBLISH_PORT', example.PUBLISH_PORT))
})

// Caddy keeps state under HOME and the XDG folders: give it a temporary one.
async function caddyEnv (t: Test, extra: Record<string, string>) {
  const home = await mkdtemp(join(tmpdir(), 'ephemeral-caddy-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  return { home, env: { PATH: process.env.PATH ?? '', HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home, ...extra } }
}

t.test('Caddyfile: caddy validate accepts it', async t => {
  const { env } = await caddyEnv(t, { DOMAIN: 'example.test' })
  const { stdout } = await run('caddy', ['validate', '--config', join(root, 'Caddyfile'), '--adapter', 'caddyfile'], { env })
    .catch((err: NodeJS.ErrnoException & { stderr?: string }) => {
      throw new Error(err.code === 'ENOENT' ? 'caddy is not installed (.ci/run installs it with apt-get)' : String(err.stderr))
    })
  t.match(stdout, 'Valid configuration')
})

async function listen (server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

async function freePort (): Promise<number> {
  const server = createTcpServer()
  const port = await listen(server)
  server.close()
  await once(server, 'close')
  return port
}

t.test('Caddyfile: ranges and live events pass through unbuffered and uncompressed, the rest compressed, the client forwarded', async t => {
  // An upstream that answers with what it saw; on the held paths it sends a
  // first piece of a declared longer body (or one event) and keeps the rest back.
  const upstream = createServer((req, res) => {
    const seen = { 'x-seen-range': req.headers.range ?? '', 'x-seen-forwarded-for': String(req.headers['x-forwarded-for']) }
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', ...seen })
      res.write('data: first\n\n')
    } else if (req.url === '/stream/held.wav') {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': 1000, ...seen })
      res.write('RIFF')
    } else {
      res.writeHead(req.headers.range === undefined ? 200 : 206, { 'content-type': 'text/plain', ...seen })
      res.end('x'.repeat(4096))
    }
  })
  const upstreamPort = await listen(upstream)
  t.teardown(() => { upstream.closeAllConnections(); upstream.close() })

  // The production Caddyfile, plain HTTP on a free port, pointed at the upstream.
  const port = await freePort()
  const { home, env } = await caddyEnv(t, { DOMAIN: `http://127.0.0.1:${port}` })
  const config = join(home, 'Caddyfile')
  const site = (await read('Caddyfile')).replaceAll('ephemeral-audio:5000', `127.0.0.1:${upstreamPort}`)
  await writeFile(config, `{\n\tadmin off\n\tauto_https off\n}\n${site}`)
  const caddy = spawn('caddy', ['run', '--config', config, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { caddy.kill() })
  let log = ''
  caddy.stderr.on('data', (chunk: Buffer) => { log += chunk.toString() })
  caddy.on('error', err => { log += err.message })
  const base = `http://127.0.0.1:${port}`
  for (let tries = 0; ; tries++) {
    try { await fetch(base); break } catch {}
    if (caddy.exitCode !== null || caddy.pid === undefined || tries > 100) throw new Error(`caddy did not start: ${log}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }

  const headers = { 'accept-encoding': 'gzip, zstd', range: 'bytes=0-9', 'x-forwarded-for': '203.0.113.7' }
  const stream = await fetch(`${base}/stream/a.wav`, { headers })
  t.equal(stream.status, 206)
  t.equal(stream.headers.get('x-seen-range'), 'bytes=0-9', 'Range reaches the API')
  t.equal(stream.headers.get('content-encoding'), null, '/stream is not compressed')
  t.equal((await stream.arrayBuffer()).byteLength, 4096)
  t.equal(stream.headers.get('x-seen-forwarded-for'), '127.0.0.1', 'X-Forwarded-For is the client, not what it claimed')

  const other = await fetch(`${base}/tracks`, { headers })
  t.not(other.headers.get('content-encoding'), null, 'other paths are compressed')
  await other.arrayBuffer()

  for (const [path, first] of [['/events', 'data: first\n\n'], ['/stream/held.wav', 'RIFF']] as const) {
    const reply = await fetch(base + path, { headers: { 'accept-encoding': 'gzip' }, signal: AbortSignal.timeout(5000) })
    const reader = reply.body!.getReader()
    const { value } = await reader.read()
    t.equal(Buffer.from(value!).toString(), first, `${path}: the first bytes arrive while the API still holds the rest`)
    t.equal(reply.headers.get('content-encoding'), null)
    await reader.cancel()
  }
})
