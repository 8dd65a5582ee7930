import t from 'tap'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { buildTestApp, type TapTest, type TestApp } from '../helper.js'
import { bundledCountryDatabase } from '../../lib/history/country.js'

const TOKEN = 'analytics-test-token'
const admin = { authorization: `Bearer ${TOKEN}` }
// Monday 30 November 2026, 22:50 UTC: plays cross an hour and a day boundary below.
const START = Date.UTC(2026, 10, 30, 22, 50)
const MIN = 60_000
const DAY = 86_400_000

/** An app whose clock the test moves. */
async function clockedApp (t: TapTest, env: Record<string, string | number | boolean> = {}, dirs?: { audioDir: string, metadataDir: string }) {
  const clock = { now: START }
  const app = await buildTestApp(t, {
    tracks: { 'a.wav': { frames: 16000 }, 'b.wav': { frames: 16000 } }, // 2 s at 8 kHz: 4 segments
    env: { ADMIN_TOKEN: TOKEN, DEGRADE_RATE_LIMIT: 0, ...env },
    clock: () => clock.now,
    ...(dirs === undefined ? {} : { dirs })
  })
  return { ...app, clock }
}

async function playAt (app: TestApp['app'], filename: string, segment: number) {
  const reply = await app.inject({ method: 'POST', url: `/degrade/${filename}`, payload: { segment_index: segment } })
  if (reply.statusCode !== 200) throw new Error(`play refused: ${reply.body}`)
  return reply.json()
}

async function listenAs (app: TestApp['app'], filename: string, headers: Record<string, string> = {}) {
  const reply = await app.inject({ method: 'GET', url: `/stream/${filename}`, headers })
  if (reply.statusCode !== 200 && reply.statusCode !== 206) throw new Error(`stream refused: ${reply.statusCode}`)
}

async function historyOf (app: TestApp['app'], filename: string, query: string) {
  await app.analytics.flush()
  const reply = await app.inject({ url: `/tracks/${filename}/history?${query}`, headers: admin })
  return { status: reply.statusCode, body: reply.json() }
}

t.test('plays at controlled times: hourly and daily points in UTC, whatever offset the period is asked in', async t => {
  const { app, clock } = await clockedApp(t)
  await playAt(app, 'a.wav', 0) // 22:50
  clock.now += 15 * MIN
  await playAt(app, 'a.wav', 0) // 23:05
  clock.now += 60 * MIN
  const last = await playAt(app, 'a.wav', 1) // 00:05 on 1 December
  const hours = await historyOf(app, 'a.wav', 'bucket=hour&from=2026-11-30T22:00:00Z&to=2026-12-01T02:00:00Z')
  t.equal(hours.status, 200)
  t.same(hours.body.map((p: { t: string, plays: number }) => [p.t, p.plays]), [
    ['2026-11-30T22:00:00.000Z', 1], ['2026-11-30T23:00:00.000Z', 1], ['2026-12-01T00:00:00.000Z', 1]
  ])
  t.equal(hours.body.at(-1).overall_degradation, last.overall_degradation, 'the curve ends where the last play left the track')
  // The same period written in Paris time (UTC+1): the same UTC points.
  const paris = await historyOf(app, 'a.wav', `bucket=hour&from=${encodeURIComponent('2026-11-30T23:00:00+01:00')}&to=${encodeURIComponent('2026-12-01T03:00:00+01:00')}`)
  t.same(paris.body, hours.body)
  const days = await historyOf(app, 'a.wav', 'bucket=day&from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z')
  t.same(days.body.map((p: { t: string, plays: number }) => [p.t, p.plays]), [['2026-11-30T00:00:00.000Z', 2], ['2026-12-01T00:00:00.000Z', 1]])
  const defaults = await historyOf(app, 'a.wav', '')
  t.same(defaults.body.map((p: { plays: number }) => p.plays), [2, 1], 'by default: days, the last 30')
})

t.test('listeners: the same listener on one day is one; the next day\'s key links to nothing; no address is stored', async t => {
  const { app, clock, metadataDir } = await clockedApp(t, { TRUST_PROXY: true })
  const alice = { 'x-forwarded-for': '203.0.113.7', 'user-agent': 'Firefox/140 (alice)' }
  const bob = { 'x-forwarded-for': '198.51.100.23', 'user-agent': 'Firefox/140 (alice)', 'cf-ipcountry': 'JP' }
  await listenAs(app, 'a.wav', alice)
  await listenAs(app, 'a.wav', alice)
  await listenAs(app, 'a.wav', bob)
  await listenAs(app, 'a.wav', { ...alice, range: 'bytes=100-200' }) // a seek is not a listen
  clock.now += DAY
  await listenAs(app, 'a.wav', alice)
  const days = await historyOf(app, 'a.wav', 'bucket=day&from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z')
  t.same(days.body.map((p: { listens: number, listeners: number }) => [p.listens, p.listeners]), [[3, 2], [1, 1]])

  await app.analytics.flush()
  const db = new DatabaseSync(join(metadataDir, 'history.sqlite'), { readOnly: true })
  t.teardown(() => db.close())
  const keys = db.prepare('SELECT period, listener FROM seen WHERE kind = 2 ORDER BY period').all() as Array<{ period: number, listener: string }>
  t.equal(keys.length, 3, 'two listeners the first day, one the next')
  t.notOk(keys.slice(0, 2).some(k => k.listener === keys[2]?.listener), 'alice\'s keys of the two days differ: nothing links them')
  const files = (await readdir(metadataDir)).filter(f => f.startsWith('history.sqlite'))
  const bytes = Buffer.concat(await Promise.all(files.map(async f => await readFile(join(metadataDir, f)))))
  for (const secret of ['203.0.113.7', '198.51.100.23', 'alice', '203,0,113']) t.equal(bytes.indexOf(secret), -1, `"${secret}" is nowhere in the database`)
  t.same(db.prepare('SELECT country, count(*) AS n FROM listens GROUP BY country ORDER BY country').all().map(r => [r.country, r.n]), [[null, 3], ['JP', 1]],
    'the country of the trusted proxy\'s header; the documentation addresses have none')
})

t.test('without TRUST_PROXY a client cannot claim a country; ANALYTICS_COUNTRY=off records none', async t => {
  for (const env of [{}, { TRUST_PROXY: true, ANALYTICS_COUNTRY: 'off' }]) {
    const { app } = await clockedApp(t, env)
    await listenAs(app, 'a.wav', { 'cf-ipcountry': 'JP', 'x-forwarded-for': '8.8.8.8' })
    await app.analytics.flush()
    const figures = (await app.inject({ url: '/admin/analytics?from=2026-11-01T00:00:00Z&to=2026-12-31T00:00:00Z', headers: admin })).json()
    t.equal(figures.totals.listens, 1)
    t.same(figures.countries, [], JSON.stringify(env))
  }
  const { app } = await clockedApp(t, { TRUST_PROXY: true })
  await listenAs(app, 'a.wav', { 'x-forwarded-for': '8.8.8.8' })
  await app.analytics.flush()
  t.same((await app.inject({ url: '/admin/analytics?from=2026-11-01T00:00:00Z&to=2026-12-31T00:00:00Z', headers: admin })).json().countries,
    [{ country: 'US', listens: 1 }], 'no header: the bundled database knows the address')
})

t.test('ANALYTICS_COUNTRY_DB replaces the bundled database', async t => {
  const countriesOf = async (env: Record<string, string | boolean>) => {
    const { app } = await clockedApp(t, { TRUST_PROXY: true, ...env })
    await listenAs(app, 'a.wav', { 'x-forwarded-for': '8.8.8.8' })
    await app.analytics.flush()
    return (await app.inject({ url: '/admin/analytics?from=2026-11-01T00:00:00Z&to=2026-12-31T00:00:00Z', headers: admin })).json().countries
  }
  t.same(await countriesOf({}), [{ country: 'US', listens: 1 }], 'the bundled database knows the address')
  // The same package's IPv6-only file: an IPv4 listener has no country there.
  const ipv6Only = bundledCountryDatabase().replace(/iptoasn-country\.mmdb$/, 'iptoasn-country-ipv6.mmdb')
  t.same(await countriesOf({ ANALYTICS_COUNTRY_DB: ipv6Only }), [], 'the database named is the one used')
  t.same(await countriesOf({ ANALYTICS_COUNTRY_DB: '/nonexistent/countries.mmdb' }), [], 'one that cannot be read: no country, and the service still runs')
})

t.test('ANALYTICS=off writes nothing and says so; plays are still counted', async t => {
  const { app, metadataDir } = await clockedApp(t, { ANALYTICS: 'off' })
  t.equal((await playAt(app, 'a.wav', 0)).play_count, 1)
  await listenAs(app, 'a.wav')
  for (const url of ['/tracks/a.wav/history', '/admin/analytics']) {
    const reply = await app.inject({ url, headers: admin })
    t.equal(reply.statusCode, 404)
    t.match(reply.json(), { code: 'EA_ANALYTICS_OFF', message: /ANALYTICS=off/ })
  }
  await app.close()
  t.same((await readdir(metadataDir)).filter(f => f.includes('history')), [], 'no history file at all')
})

t.test('a reset starts a new life, the old one stays readable; an engine change keeps the life; a delete forgets all', async t => {
  const { app, metadataDir } = await clockedApp(t)
  await playAt(app, 'a.wav', 0)
  await playAt(app, 'a.wav', 1)
  t.equal((await app.inject({ method: 'PATCH', url: '/tracks/a.wav', headers: admin, payload: { engine: 'tape' } })).statusCode, 200)
  await playAt(app, 'a.wav', 2)
  const life = await historyOf(app, 'a.wav', 'bucket=day')
  t.same(life.body.map((p: { plays: number }) => p.plays), [3], 'the engine change kept the history')
  t.equal((await app.inject({ method: 'POST', url: '/reset/a.wav', headers: admin })).statusCode, 200)
  t.same((await historyOf(app, 'a.wav', 'bucket=day')).body, [], 'a reset track begins again')
  t.same((await historyOf(app, 'a.wav', 'bucket=day&life=1')).body.map((p: { plays: number }) => p.plays), [3], 'its previous life')
  await playAt(app, 'a.wav', 0)
  t.same((await historyOf(app, 'a.wav', 'bucket=day')).body.map((p: { plays: number }) => p.plays), [1])
  t.same((await historyOf(app, 'a.wav', 'bucket=day&life=1')).body.map((p: { plays: number }) => p.plays), [3])

  await playAt(app, 'b.wav', 0)
  t.equal((await app.inject({ method: 'DELETE', url: '/tracks/a.wav', headers: admin })).statusCode, 204)
  await app.analytics.flush()
  await app.analytics.query(async () => {}) // the forget is queued after the flush
  const db = new DatabaseSync(join(metadataDir, 'history.sqlite'), { readOnly: true })
  t.teardown(() => db.close())
  t.same(db.prepare('SELECT filename FROM lives ORDER BY filename').all().map(r => r.filename), ['b.wav'], 'both lives of a.wav are gone')
  t.equal(db.prepare('SELECT count(*) AS n FROM plays').get()?.n, 1, 'b.wav\'s play stays')
})

t.test('raw events older than ANALYTICS_RETENTION_DAYS are pruned at start; the rollups stay', async t => {
  const first = await clockedApp(t, { ANALYTICS_RETENTION_DAYS: 30 })
  await playAt(first.app, 'a.wav', 0)
  await listenAs(first.app, 'a.wav')
  await first.app.close()
  const clock = { now: START + 31 * DAY }
  const again = await buildTestApp(t, {
    dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir },
    env: { ADMIN_TOKEN: TOKEN, ANALYTICS_RETENTION_DAYS: 30 },
    clock: () => clock.now
  })
  await again.app.analytics.query(async () => {}) // the start-up prune is queued before this
  const db = new DatabaseSync(join(first.metadataDir, 'history.sqlite'), { readOnly: true })
  t.teardown(() => db.close())
  t.equal(db.prepare('SELECT count(*) AS n FROM plays').get()?.n, 0)
  t.equal(db.prepare('SELECT count(*) AS n FROM listens').get()?.n, 0)
  t.equal(db.prepare('SELECT count(*) AS n FROM seen').get()?.n, 0)
  const days = await historyOf(again.app, 'a.wav', 'bucket=day&from=2026-11-01T00:00:00Z&to=2027-01-31T00:00:00Z')
  t.same(days.body.map((p: { plays: number, listens: number }) => [p.plays, p.listens]), [[1, 1]], 'the curve keeps its past')
})

t.test('many plays and listens at once: the history has every acknowledged one', async t => {
  const { app } = await clockedApp(t)
  const plays = await Promise.all(Array.from({ length: 200 }, async (_, i) => await playAt(app, i % 2 === 0 ? 'a.wav' : 'b.wav', i % 4)))
  await Promise.all(Array.from({ length: 40 }, async (_, i) => await listenAs(app, 'b.wav', { 'user-agent': `ua-${i % 10}` })))
  const a = (await historyOf(app, 'a.wav', 'bucket=day')).body
  const b = (await historyOf(app, 'b.wav', 'bucket=day')).body
  t.equal(plays.length, 200)
  t.same([a[0]?.plays, b[0]?.plays], [100, 100])
  t.same([b[0]?.listens, b[0]?.listeners], [40, 10])
})

t.test('odd periods and queries are refused in words', async t => {
  const { app } = await clockedApp(t)
  const cases: Array<[string, number, RegExp]> = [
    ['/tracks/a.wav/history?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', 400, /must be before/],
    ['/tracks/a.wav/history?bucket=hour&from=2020-01-01T00:00:00Z', 400, /at most 93 days/],
    ['/tracks/a.wav/history?from=yesterday', 400, /from/],
    ['/tracks/a.wav/history?bucket=week', 400, /bucket/],
    ['/tracks/a.wav/history?life=-1', 400, /life/],
    ['/tracks/a.wav/history?life=1e3', 400, /life/],
    ['/tracks/missing.wav/history', 404, /missing\.wav/],
    ['/admin/analytics?top=0', 400, /top/],
    ['/admin/analytics?to=275760-09-13T00:00:01Z', 400, /./]
  ]
  for (const [url, status, message] of cases) {
    const reply = await app.inject({ url, headers: admin })
    t.equal(reply.statusCode, status, url)
    t.match(reply.json().message, message, url)
  }
  t.equal((await app.inject({ url: '/admin/analytics' })).statusCode, 401, 'admin only')
  t.same((await app.inject({ url: '/tracks/a.wav/history?life=1000', headers: admin })).json(), [], 'a life that never was is empty')
})

t.test('a history file that is not a database: plays go on, the history routes say what is wrong', async t => {
  const first = await clockedApp(t)
  await first.app.close()
  await writeFile(join(first.metadataDir, 'history.sqlite'), Buffer.alloc(8192, 'not a database '))
  await rm(join(first.metadataDir, 'history.sqlite-wal'), { force: true })
  const again = await buildTestApp(t, { dirs: { audioDir: first.audioDir, metadataDir: first.metadataDir }, env: { ADMIN_TOKEN: TOKEN, DEGRADE_RATE_LIMIT: 0 } })
  t.equal((await playAt(again.app, 'a.wav', 0)).play_count, 1, 'the play is counted')
  for (const url of ['/tracks/a.wav/history', '/admin/analytics']) {
    const reply = await again.app.inject({ url, headers: admin })
    t.equal(reply.statusCode, 503)
    t.match(reply.json(), { code: 'EA_ANALYTICS_UNAVAILABLE', message: /not a database.*Move the file aside/ })
  }
})
