import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { get, type IncomingMessage } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { buildTestApp, listen, type TapTest } from '../helper.js'

const NAME = 'a.wav'
/** promtool's exit status for a text that parses but draws lint remarks. */
const LINT_REMARKS = 3
// 2 s at 8 kHz: four segments of 0.5 s.
const TRACKS = { [NAME]: { frames: 16000 } }

/** Every metric the service promises (README: Metrics), by its TYPE line. */
const EXPECTED: Array<[string, string]> = [
  ['ephemeral_audio_http_requests_total', 'counter'],
  ['ephemeral_audio_http_request_duration_seconds', 'histogram'],
  ['ephemeral_audio_plays_total', 'counter'],
  ['ephemeral_audio_listens_total', 'counter'],
  ['ephemeral_audio_stream_bytes_total', 'counter'],
  ['ephemeral_audio_degrade_duration_seconds', 'histogram'],
  ['ephemeral_audio_journal_commit_seconds', 'histogram'],
  ['ephemeral_audio_checkpoint_duration_seconds', 'histogram'],
  ['ephemeral_audio_cache_hits_total', 'counter'],
  ['ephemeral_audio_cache_misses_total', 'counter'],
  ['ephemeral_audio_events_clients', 'gauge'],
  ['ephemeral_audio_tracks', 'gauge'],
  ['ephemeral_audio_track_overall_degradation', 'gauge'],
  ['ephemeral_audio_history_pending_events', 'gauge'],
  ['ephemeral_audio_history_write_failures_total', 'counter'],
  ['ephemeral_audio_history_dropped_events_total', 'counter'],
  ['process_cpu_seconds_total', 'counter'],
  ['process_resident_memory_bytes', 'gauge'],
  ['process_open_fds', 'gauge'],
  ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge']
]

interface Sample { name: string, labels: Record<string, string>, value: number }

/** The samples of a text exposition (enough of the format for our own output; promtool judges the format). */
function samples (text: string): Sample[] {
  return text.split('\n').filter(line => line !== '' && !line.startsWith('#')).map(line => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`unparsable sample line: ${line}`)
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(m => [m[1], m[2]]))
    return { name: match[1] as string, labels, value: Number(match[3]) }
  })
}

/** The value of one series (its labels a superset of `labels`), or undefined. */
function valueOf (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return samples(text).find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

async function setup (t: TapTest, env: Record<string, string | number | boolean> = {}) {
  const built = await buildTestApp(t, { tracks: TRACKS, env: { DEGRADE_RATE_LIMIT: 0, ...env } })
  const url = await listen(built.app)
  const scrape = async (headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}/metrics`, { headers })
    t.equal(res.status, 200, 'GET /metrics')
    return await res.text()
  }
  /** Scrape until `ok` holds: an onResponse hook may run just after the client has read the body. */
  const until = async (ok: (text: string) => boolean) => {
    let text = await scrape()
    for (let i = 0; i < 100 && !ok(text); i++) {
      await sleep(20)
      text = await scrape()
    }
    return text
  }
  return { ...built, url, scrape, until }
}

const count = (text: string, name: string, labels?: Record<string, string>) => valueOf(text, name, labels) ?? 0

t.test('GET /metrics: every promised metric, in the Prometheus text format promtool accepts', async t => {
  const { url, scrape } = await setup(t)
  await fetch(`${url}/tracks`)
  await fetch(`${url}/no-such-route/${'x'.repeat(20)}`)
  const res = await fetch(`${url}/metrics`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  const text = await scrape()
  for (const [name, type] of EXPECTED) t.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} (${type})`)
  t.equal(valueOf(text, 'ephemeral_audio_tracks'), 1)
  t.equal(valueOf(text, 'ephemeral_audio_track_overall_degradation', { track: NAME }), 0)
  t.ok(count(text, 'ephemeral_audio_http_requests_total', { method: 'GET', route: '/tracks', status_code: '200' }) >= 1, 'requests by route pattern')
  t.ok(count(text, 'ephemeral_audio_http_requests_total', { route: 'unmatched', status_code: '404' }) >= 1, 'a 404 has route="unmatched"')
  t.notMatch(text, /no-such-route/, 'never a raw URL in a label')

  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  t.equal(check.error, undefined, 'promtool runs (Debian package prometheus)')
  // promtool exits 1 when the text does not parse and 3 when it parses with lint remarks. prom-client's
  // own nodejs_active_*_total gauges draw remarks (not ours to rename); our metrics must draw none.
  t.ok(check.status === 0 || check.status === LINT_REMARKS, `promtool check metrics parses it (exit ${String(check.status)}): ${check.stderr}`)
  const remarks = `${check.stdout}${check.stderr}`.split('\n').filter(line => line.trim() !== '')
  t.same(remarks.filter(line => !/^nodejs_\w+ /.test(line)), [], 'no lint remark on the service\'s metrics')
})

t.test('counters and histograms move when they should', async t => {
  const { app, url, scrape, until } = await setup(t)
  const before = await scrape()

  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${url}/degrade/${NAME}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: 0 }) })
    t.equal(res.status, 200)
  }
  const afterPlays = await until(text => count(text, 'ephemeral_audio_degrade_duration_seconds_count') - count(before, 'ephemeral_audio_degrade_duration_seconds_count') >= 3)
  t.equal(count(afterPlays, 'ephemeral_audio_plays_total') - count(before, 'ephemeral_audio_plays_total'), 3, 'plays_total rose by 3')
  await app.analytics.flush()
  t.equal(count(await scrape(), 'ephemeral_audio_history_pending_events'), 0, 'the plays are in the history')
  t.equal(count(afterPlays, 'ephemeral_audio_degrade_duration_seconds_count') - count(before, 'ephemeral_audio_degrade_duration_seconds_count'), 3, 'three plays timed')
  const commits = count(afterPlays, 'ephemeral_audio_journal_commit_seconds_count') - count(before, 'ephemeral_audio_journal_commit_seconds_count')
  t.ok(commits >= 1 && commits <= 3, `journal commits observed (${commits})`)
  const tracks = await (await fetch(`${url}/tracks`)).json() as Array<{ filename: string, overall_degradation: number }>
  const overall = tracks.find(track => track.filename === NAME)?.overall_degradation
  t.ok(overall !== undefined && overall > 0)
  t.equal(valueOf(await scrape(), 'ephemeral_audio_track_overall_degradation', { track: NAME }), overall, 'the degradation GET /tracks reports')

  // A whole stream (a listen), then a range (not a listen): the bytes received, counted.
  const whole = Buffer.from(await (await fetch(`${url}/stream/${NAME}`)).arrayBuffer())
  const part = Buffer.from(await (await fetch(`${url}/stream/${NAME}`, { headers: { range: 'bytes=100-199' } })).arrayBuffer())
  t.equal(part.length, 100)
  const received = whole.length + part.length
  const afterStreams = await until(text => count(text, 'ephemeral_audio_stream_bytes_total') - count(before, 'ephemeral_audio_stream_bytes_total') >= received)
  t.equal(count(afterStreams, 'ephemeral_audio_stream_bytes_total') - count(before, 'ephemeral_audio_stream_bytes_total'), received, 'stream_bytes_total rose by the bytes received')
  t.equal(count(afterStreams, 'ephemeral_audio_listens_total') - count(before, 'ephemeral_audio_listens_total'), 1, 'one listen')
  const reads = count(afterStreams, 'ephemeral_audio_cache_hits_total') + count(afterStreams, 'ephemeral_audio_cache_misses_total')
  t.equal(reads, app.trackCache.stats.hits + app.trackCache.stats.misses, 'cache counters are the cache\'s own')
  t.ok(reads >= 2, 'each stream is a cache hit or a miss')
  t.ok(count(afterStreams, 'ephemeral_audio_http_request_duration_seconds_count', { method: 'GET', route: '/stream/:filename', status_code: '206' }) >= 1, 'latency by route and status')

  await app.degrader.checkpoint()
  const afterCheckpoint = await scrape()
  t.equal(count(afterCheckpoint, 'ephemeral_audio_checkpoint_duration_seconds_count') - count(before, 'ephemeral_audio_checkpoint_duration_seconds_count'), 1, 'a checkpoint observed')

  // A live listener raises events_clients while it is connected.
  const listener = await new Promise<IncomingMessage>((resolve, reject) => {
    get(`${url}/events`, res => res.once('data', () => resolve(res))).on('error', reject)
  })
  t.equal(listener.statusCode, 200)
  t.equal(valueOf(await scrape(), 'ephemeral_audio_events_clients'), 1, 'one live listener')
  listener.destroy()
  const left = await until(text => valueOf(text, 'ephemeral_audio_events_clients') === 0)
  t.equal(valueOf(left, 'ephemeral_audio_events_clients'), 0, 'gone when it leaves')
})

t.test('METRICS_TOKEN: 401 without or with a wrong token, 200 with it', async t => {
  const token = 'scrape-secret'
  const { url, scrape } = await setup(t, { METRICS_TOKEN: token })
  for (const [what, headers] of [['no token', {}], ['a wrong token', { authorization: 'Bearer nope' }], ['another scheme', { authorization: `Basic ${token}` }]] as const) {
    const res = await fetch(`${url}/metrics`, { headers })
    t.equal(res.status, 401, what)
    t.match(res.headers.get('www-authenticate'), /^Bearer realm="ephemeral-audio"/, what)
    t.same(await res.json(), { statusCode: 401, code: 'EA_UNAUTHORIZED', error: 'Unauthorized', message: 'A valid metrics token is required: Authorization: Bearer <METRICS_TOKEN>' }, what)
  }
  t.match(await scrape({ authorization: `Bearer ${token}` }), /^# TYPE ephemeral_audio_plays_total counter$/m)
  // Only /metrics: the listener routes stay open.
  t.equal((await fetch(`${url}/tracks`)).status, 200)
})

t.test('two apps in one process have registries of their own', async t => {
  const first = await setup(t)
  const second = await setup(t)
  const res = await fetch(`${first.url}/degrade/${NAME}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: 1 }) })
  t.equal(res.status, 200)
  t.equal(valueOf(await first.scrape(), 'ephemeral_audio_plays_total'), 1)
  t.equal(valueOf(await second.scrape(), 'ephemeral_audio_plays_total'), 0)
})

t.test('deploy/grafana-dashboard.json is valid JSON and names only metrics /metrics serves', async t => {
  const dashboard = JSON.parse(await readFile(fileURLToPath(new URL('../../deploy/grafana-dashboard.json', import.meta.url)), 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ expr: string }> }> }
  const exprs = dashboard.panels.flatMap(panel => (panel.targets ?? []).map(target => target.expr))
  t.ok(exprs.length >= 10, `${exprs.length} queries`)

  // Some series appear only once observed: a play, a stream and a 404 make them.
  const { url, scrape } = await setup(t)
  await fetch(`${url}/degrade/${NAME}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: 0 }) })
  await (await fetch(`${url}/stream/${NAME}`)).arrayBuffer()
  const served = new Set(samples(await scrape()).map(s => s.name))

  const functions = new Set(['sum', 'rate', 'histogram_quantile', 'by', 'le', 'route', 'method', 'status_code', 'track'])
  const used = new Set(exprs.flatMap(expr => [...expr.replace(/\[[^\]]*\]/g, '').replace(/\{[^}]*\}/g, '').matchAll(/[a-zA-Z_:][\w:]*/g)].map(m => m[0]))
    .filter(word => !functions.has(word)))
  t.ok(used.size >= 10, `${used.size} metric names used`)
  for (const name of used) t.ok(served.has(name), `${name} is served`)
})
