import t from 'tap'
import { join } from 'node:path'
import { buildApp } from '../../app.js'
import { resolveConfig } from '../../plugins/external/env.js'
import { buildTestApp } from '../helper.js'
import { Value } from 'typebox/value'
import { EnvSchema } from '../../schemas/env.js'

const bad: Array<[string, string]> = [
  ['PORT', '70000'],
  ['PORT', 'http'],
  ['SEGMENT_DURATION', '0'],
  ['SEGMENT_DURATION', '-1'],
  ['DEGRADATION_RATE', '101'],
  ['LOG_LEVEL', 'loud'],
  ['DEGRADE_RATE_LIMIT', '-5']
]

for (const [name, value] of bad) {
  t.test(`${name}=${value} stops the service at boot with a message naming it`, async t => {
    const dir = t.testdir({})
    await t.rejects(buildApp({ env: { AUDIO_DIR: join(dir, 'a'), METADATA_DIR: join(dir, 'm'), [name]: value } }), new RegExp(name))
  })
}

t.test('defaults are those of the Flask service', async t => {
  const { app } = await buildTestApp(t, {})
  const c = app.config
  t.equal(c.port, 5000)
  t.equal(c.segmentDuration, 0.5)
  t.equal(c.degradationRate, 1)
  t.equal(c.corsOrigins, '*')
  t.equal(c.backupDir, join(c.metadataDir, 'originals'))
  t.equal(c.degradeRateLimit, 8, '4 × the 2 segments a second a real listener plays')
})

t.test('CORS_ORIGIN takes a comma-separated list', async t => {
  const c = resolveConfig({ ...Value.Create(EnvSchema), CORS_ORIGIN: 'https://a.example, https://b.example' })
  t.same(c.corsOrigins, ['https://a.example', 'https://b.example'])
})

t.test('only listed origins are allowed', async t => {
  const { app } = await buildTestApp(t, { env: { CORS_ORIGIN: 'https://a.example,https://b.example' } })
  const ok = await app.inject({ url: '/', headers: { origin: 'https://b.example' } })
  t.equal(ok.headers['access-control-allow-origin'], 'https://b.example')
  const no = await app.inject({ url: '/', headers: { origin: 'https://evil.example' } })
  t.equal(no.headers['access-control-allow-origin'], undefined)
})
