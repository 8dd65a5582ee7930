import t from 'tap'
import { buildTestApp } from '../helper.js'

const play = (segment: number, name = 'a.wav', ip = '10.0.0.1', headers: Record<string, string> = {}) => ({
  method: 'POST' as const, url: `/degrade/${name}`, payload: { segment_index: segment }, remoteAddress: ip, headers
})

t.test('the default limit follows SEGMENT_DURATION: 4 × 1/0.5 s = 8 plays a second per client and track, then 429 with Retry-After', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': { frames: 8000 * 8 }, 'b.wav': {} } })
  const codes = []
  for (let i = 0; i < 9; i++) codes.push((await app.inject(play(i % 16))).statusCode)
  t.same(codes, [200, 200, 200, 200, 200, 200, 200, 200, 429])
  const refused = await app.inject(play(0))
  t.equal(refused.statusCode, 429)
  t.ok(Number(refused.headers['retry-after']) >= 0, 'Retry-After is set')
  t.equal(refused.json().error, 'Too Many Requests')
  t.equal(refused.json().code, 'EA_RATE_LIMITED')
  t.equal((await app.inject(play(0, 'b.wav'))).statusCode, 200, 'another track has its own budget')
  t.equal((await app.inject(play(0, 'a.wav', '10.0.0.2'))).statusCode, 200, 'another client has its own budget')
  t.equal((await app.inject('/stream/a.wav')).statusCode, 200, 'streaming is never limited')
  t.equal((await app.inject('/stats/a.wav')).json().segment_play_counts.reduce((x: number, y: number) => x + y), 9, 'refused plays changed nothing: 8 plus one by the other client')
})

t.test('malformed plays are refused for what they are and cost no budget', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { DEGRADE_RATE_LIMIT: 1 } })
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ ...play(0), payload: { segment_index: 'x' } })).statusCode, 400)
  t.equal((await app.inject(play(0))).statusCode, 200, 'the budget is intact')
})

t.test('DEGRADE_RATE_LIMIT overrides the default and 0 turns it off', async t => {
  const limited = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { DEGRADE_RATE_LIMIT: 2 } })
  const codes = []
  for (let i = 0; i < 3; i++) codes.push((await limited.app.inject(play(0))).statusCode)
  t.same(codes, [200, 200, 429])

  const open = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { DEGRADE_RATE_LIMIT: 0 } })
  for (let i = 0; i < 30; i++) t.equal((await open.app.inject(play(0))).statusCode, 200)
})

t.test('behind a proxy (TRUST_PROXY) clients are told apart by the address the proxy appended', async t => {
  const { app } = await buildTestApp(t, { tracks: { 'a.wav': {} }, env: { DEGRADE_RATE_LIMIT: 1, TRUST_PROXY: true } })
  const viaProxy = (client: string) => play(0, 'a.wav', '127.0.0.1', { 'x-forwarded-for': `1.2.3.4, ${client}` })
  t.equal((await app.inject(viaProxy('203.0.113.1'))).statusCode, 200)
  t.equal((await app.inject(viaProxy('203.0.113.1'))).statusCode, 429)
  t.equal((await app.inject(viaProxy('203.0.113.2'))).statusCode, 200, 'a different real client')
})
