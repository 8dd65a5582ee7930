import t from 'tap'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { Value } from 'typebox/value'
import { EnvSchema } from '../schemas/env.js'

// No Docker engine runs where the tests do: check what can be checked statically.
const root = new URL('../', import.meta.url)
const read = async (name: string) => await readFile(new URL(name, root), 'utf8')

t.test('docker-compose.yml: one service, restart policy, env file, both data folders on named volumes', async t => {
  const compose = parse(await read('docker-compose.yml'))
  const names = Object.keys(compose.services)
  t.equal(names.length, 1)
  const service = compose.services[names[0]!]
  t.equal(service.build, '.')
  t.equal(service.restart, 'unless-stopped')
  t.ok(service.env_file, 'reads .env')
  const mounts = Object.fromEntries((service.volumes as string[]).map(v => v.split(':').reverse()))
  t.same(mounts, { [service.environment.AUDIO_DIR]: 'audio', [service.environment.METADATA_DIR]: 'metadata' })
  t.same(Object.keys(compose.volumes).sort(), ['audio', 'metadata'])
  t.match(service.ports[0], /:5000$/)
})

t.test('Dockerfile: multi-stage, pruned, non-root, health check on GET /, starts the same entry point as npm start', async t => {
  const dockerfile = await read('Dockerfile')
  const pkg = JSON.parse(await read('package.json'))
  t.equal(dockerfile.match(/^FROM /gm)?.length, 2)
  t.match(dockerfile, /npm ci/)
  t.match(dockerfile, /npm prune --omit=dev/)
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /^HEALTHCHECK .*\n?.*127\.0\.0\.1:.*'\/'/m)
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[]
  t.same(cmd, ['node', 'dist/server.js'])
  t.match(pkg.scripts.start, `${cmd.join(' ')}`)
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)].map(m => m[1])
  for (const dir of ['lib', 'plugins', 'routes', 'schemas', 'public']) t.ok(copied.includes(dir), `copies ${dir}/`)
})

t.test('.env.example lists every variable with its default', async t => {
  const example = Object.fromEntries((await read('.env.example')).split('\n')
    .filter(l => /^[A-Z_]+=/.test(l)).map(l => l.split('=', 2) as [string, string]))
  const defaults = Value.Create(EnvSchema) as Record<string, unknown>
  t.same(Object.keys(example).sort(), Object.keys(defaults).sort())
  for (const [name, value] of Object.entries(defaults)) {
    t.equal(Number.isNaN(Number(example[name])) || example[name] === '' ? example[name] : Number(example[name]),
      typeof value === 'number' ? value : String(value), name)
  }
})
