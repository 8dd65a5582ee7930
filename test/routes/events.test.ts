import t from 'tap'
import Fastify from 'fastify'
import { EventEmitter } from 'node:events'
import { request, type IncomingHttpHeaders } from 'node:http'
import { connect as connectTcp } from 'node:net'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { buildTestApp, listen, type TapTest } from '../helper.js'
import eventsRoutes, { type EventsOptions } from '../../routes/events.js'
import { ErrorSchema } from '../../schemas/error.js'
import { TrackError } from '../../lib/track-error.js'
import type { PlayEvent } from '../../schemas/events.js'

interface Frame { id?: string, event?: string, data?: string, retry?: string, comment?: string }

interface SseClient {
  status: number
  headers: IncomingHttpHeaders
  frames: Frame[]
  plays: () => PlayEvent[]
  /** Resolves when at least `n` frames satisfying `which` arrived. */
  waitFor: (n: number, which?: (f: Frame) => boolean) => Promise<void>
  ended: Promise<void>
  close: () => void
}

/** A minimal EventSource: one GET, frames parsed as they arrive. */
async function openStream (base: string, path = '/events', headers: Record<string, string> = {}): Promise<SseClient> {
  return await new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers } }, res => {
      const frames: Frame[] = []
      let text = ''
      let wake = () => {}
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        let end
        while ((end = text.indexOf('\n\n')) !== -1) {
          const frame: Frame = {}
          for (const line of text.slice(0, end).split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim()
            else {
              const colon = line.indexOf(': ')
              frame[line.slice(0, colon) as 'id' | 'event' | 'data' | 'retry'] = line.slice(colon + 2)
            }
          }
          frames.push(frame)
          text = text.slice(end + 2)
        }
        wake()
      })
      const ended = new Promise<void>(resolve => res.on('close', resolve))
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        frames,
        plays: () => frames.filter(f => f.event === 'play').map(f => JSON.parse(f.data!) as PlayEvent),
        async waitFor (n, which = () => true) {
          const deadline = Date.now() + 5000
          while (frames.filter(which).length < n) {
            if (Date.now() > deadline) throw new Error(`timed out with ${frames.filter(which).length} of ${n} frames`)
            await new Promise<void>(resolve => { wake = resolve; setTimeout(resolve, 50) })
          }
        },
        ended,
        close: () => req.destroy()
      })
    })
    req.on('error', reject)
    req.end()
  })
}

const isPlay = (f: Frame) => f.event === 'play'

async function setup (t: TapTest, env: Record<string, string | number | boolean> = {}) {
  const built = await buildTestApp(t, {
    tracks: { 'a.wav': { frames: 16_000 }, 'b.wav': { frames: 8000 } },
    env: { DEGRADE_RATE_LIMIT: 0, ...env }
  })
  const base = await listen(built.app)
  const play = async (filename: string, segment: number) =>
    await built.app.inject({ method: 'POST', url: `/degrade/${filename}`, payload: { segment_index: segment } })
  return { ...built, base, play }
}

t.test('every play reaches a connected client, in the order recorded, none lost or repeated', async t => {
  const { app, base, play } = await setup(t)
  const emitted: PlayEvent[] = []
  app.degrader.events.on('play', e => emitted.push({ ...e }))
  const client = await openStream(base)
  t.equal(client.status, 200)
  t.match(client.headers['content-type'], /^text\/event-stream/)
  t.equal(client.headers['cache-control'], 'no-cache, no-transform')
  t.equal(client.headers['x-accel-buffering'], 'no')
  await client.waitFor(1)
  t.match(client.frames[0], { retry: '3000' }, 'the first frame sets the reconnection delay')

  // Concurrent plays on many segments of two tracks, several per segment.
  const plays = Array.from({ length: 120 }, (_, i) => play(i % 3 === 0 ? 'b.wav' : 'a.wav', i % 3 === 0 ? i % 2 : i % 4))
  const results = await Promise.all(plays)
  t.ok(results.every(r => r.statusCode === 200))
  await client.waitFor(120, isPlay)
  await new Promise(resolve => setTimeout(resolve, 100))
  const received = client.plays()
  t.equal(received.length, 120, 'all of them, and no more')
  t.same(received, emitted, 'in the order the degrader recorded them, with its figures')
  t.same(Object.keys(received[0]!).sort(), ['filename', 'overall_degradation', 'play_count', 'segment_degradation', 'segment_index', 'total_plays'])
  const ids = client.frames.filter(isPlay).map(f => Number(f.id!.split('-')[1]))
  t.same(ids, ids.map((_, i) => ids[0]! + i), 'ids count up one by one')
  for (const filename of ['a.wav', 'b.wav']) {
    const totals = received.filter(e => e.filename === filename).map(e => e.total_plays)
    t.same(totals, [...totals].sort((x, y) => x - y), `${filename}: total_plays never goes back`)
  }
  client.close()
})

t.test('?filename= keeps one track\'s plays', async t => {
  const { base, play } = await setup(t)
  const onlyB = await openStream(base, '/events?filename=b.wav')
  const all = await openStream(base)
  await play('a.wav', 0)
  await play('b.wav', 1)
  await play('a.wav', 2)
  await all.waitFor(3, isPlay)
  await onlyB.waitFor(1, isPlay)
  await new Promise(resolve => setTimeout(resolve, 100))
  t.same(onlyB.plays().map(e => [e.filename, e.segment_index]), [['b.wav', 1]])
  t.same(all.plays().map(e => [e.filename, e.segment_index]), [['a.wav', 0], ['b.wav', 1], ['a.wav', 2]])
  onlyB.close()
  all.close()
})

t.test('a bad or unknown filename filter is refused before streaming', async t => {
  const { app } = await setup(t)
  const unknown = await app.inject('/events?filename=nope.wav')
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'EA_TRACK_NOT_FOUND')
  t.equal((await app.inject('/events?filename=../x.wav')).statusCode, 400)
  t.equal((await app.inject('/events?since=3')).statusCode, 400)
  t.equal((await app.inject({ method: 'HEAD', url: '/events' })).statusCode, 404, 'no HEAD: it would open a stream for nothing')
})

t.test('at most EVENTS_MAX_CLIENTS listeners; the next one gets 503 and Retry-After', async t => {
  const { base } = await setup(t, { EVENTS_MAX_CLIENTS: 2 })
  const first = await openStream(base)
  const second = await openStream(base)
  const third = await openStream(base)
  t.equal(third.status, 503)
  t.equal(third.headers['retry-after'], '5')
  await third.ended
  first.close()
  await first.ended
  // The server notices the close on one of its next turns (later on a loaded machine): ask until it has.
  let fourth = await openStream(base)
  for (let tries = 0; fourth.status === 503 && tries < 200; tries++) {
    await fourth.ended
    await new Promise(resolve => setTimeout(resolve, 25))
    fourth = await openStream(base)
  }
  t.equal(fourth.status, 200, 'a place freed by a leaving listener is taken again')
  second.close()
  fourth.close()
})

t.test('503 body is the one error shape', async t => {
  const { app } = await setup(t, { EVENTS_MAX_CLIENTS: 1 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const holder = await openStream(base)
  const res = await app.inject('/events')
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: '1 live listeners already: try again in 5 s', code: 'EA_TOO_MANY_LISTENERS' })
  holder.close()
})

t.test('a client reconnecting with Last-Event-ID gets what it missed, or a reset', async t => {
  const { base, play } = await setup(t)
  const first = await openStream(base)
  await play('a.wav', 0)
  await play('a.wav', 1)
  await first.waitFor(2, isPlay)
  const lastId = first.frames.filter(isPlay).at(-1)!.id!
  first.close()
  await first.ended
  await play('a.wav', 2)
  await play('b.wav', 0)
  await play('a.wav', 3)

  const again = await openStream(base, '/events', { 'last-event-id': lastId })
  await again.waitFor(3, isPlay)
  t.same(again.plays().map(e => [e.filename, e.segment_index]), [['a.wav', 2], ['b.wav', 0], ['a.wav', 3]], 'the three missed plays, in order')
  again.close()

  const filtered = await openStream(base, '/events?filename=a.wav', { 'last-event-id': lastId })
  await filtered.waitFor(2, isPlay)
  t.same(filtered.plays().map(e => e.segment_index), [2, 3], 'a filtered client gets only its track\'s')
  filtered.close()

  const upToDate = await openStream(base, '/events', { 'last-event-id': again.frames.filter(isPlay).at(-1)!.id! })
  await upToDate.waitFor(1)
  await new Promise(resolve => setTimeout(resolve, 100))
  t.equal(upToDate.frames.length, 1, 'nothing missed, nothing sent but the greeting')
  upToDate.close()

  for (const stale of ['00000000-1', 'garbage', `${lastId.split('-')[0]}-999`]) {
    const client = await openStream(base, '/events', { 'last-event-id': stale })
    await client.waitFor(1, f => f.event === 'reset')
    t.pass(`reset for Last-Event-ID ${stale}`)
    client.close()
  }
})

t.test('closing the service ends open streams instead of waiting for them', async t => {
  const { app, base } = await setup(t)
  const client = await openStream(base)
  await client.waitFor(1)
  const started = Date.now()
  await app.close()
  await client.ended
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`)
})

/** The route alone on a bare Fastify, fed by a plain emitter: for timings too slow or too fast to provoke with real plays. */
async function bareEvents (t: TapTest, options: EventsOptions) {
  const events = new EventEmitter<{ play: [PlayEvent] }>()
  const fastify = Fastify()
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)
  fastify.addSchema(ErrorSchema)
  fastify.decorate('config', { eventsMaxClients: 10 } as never)
  fastify.decorate('tracks', {
    get: async (name: string) => {
      if (name !== 'a.wav') throw new TrackError(404, 'EA_TRACK_NOT_FOUND', `Track not found: ${name}`)
      return { filename: name }
    }
  } as never)
  fastify.decorate('degrader', { events } as never)
  fastify.decorate('metrics', { countEventsClients: () => {} } as never)
  await fastify.register(eventsRoutes, options)
  t.teardown(async () => await fastify.close())
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  return { events, base: `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}` }
}

t.test('heart-beats are comment lines, sent while nothing happens', async t => {
  const { base } = await bareEvents(t, { heartbeatMs: 30 })
  const client = await openStream(base)
  await client.waitFor(3, f => f.comment === 'heartbeat')
  t.pass('three heart-beats')
  client.close()
})

t.test('a client that does not read is disconnected; it never makes the server buffer without bound', async t => {
  const maxBufferedBytes = 64 * 1024
  const { events, base } = await bareEvents(t, { maxBufferedBytes, heartbeatMs: 60_000 })
  const { port } = new URL(base)
  // A raw socket that sends the request and then reads nothing.
  const socket = connectTcp(Number(port), '127.0.0.1')
  await new Promise(resolve => socket.once('connect', resolve))
  socket.write('GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n')
  socket.pause()
  const closed = new Promise<void>(resolve => socket.on('close', () => resolve()))
  socket.on('error', () => {})
  await new Promise(resolve => setTimeout(resolve, 100))

  const filename = `${'x'.repeat(240)}.wav`
  const event = { filename, segment_index: 1, play_count: 1, segment_degradation: 1, overall_degradation: 1, total_plays: 1 }
  const frameBytes = Buffer.byteLength(`id: 01234567-1\nevent: play\ndata: ${JSON.stringify(event)}\n\n`)
  // 64 MB of events: far more than the socket buffers and the bound together can hold.
  const total = Math.ceil(64 * 1024 * 1024 / frameBytes)
  for (let i = 0; i < total; i++) {
    events.emit('play', { ...event, total_plays: i + 1 })
    if (i % 1000 === 0) await new Promise(resolve => setImmediate(resolve))
  }
  // Had the server kept it all for the client, the client would now read all 64 MB.
  socket.resume()
  let received = 0
  socket.on('data', (chunk: Buffer) => { received += chunk.length })
  await closed
  t.ok(received < 16 * 1024 * 1024, `the slow client was cut off after ${Math.round(received / 1024)} kB of ${Math.round(total * frameBytes / 1024)} kB`)
})

t.test('a client that keeps up is never dropped, even through bursts', async t => {
  const { events, base } = await bareEvents(t, { maxBufferedBytes: 64 * 1024, heartbeatMs: 60_000 })
  const client = await openStream(base)
  await client.waitFor(1)
  const total = 20_000
  // Bursts of 100 events (about 20 kB) per turn of the event loop.
  for (let i = 0; i < total; i++) {
    events.emit('play', { filename: 'a.wav', segment_index: i % 7, play_count: i + 1, segment_degradation: 1, overall_degradation: 1, total_plays: i + 1 })
    if (i % 100 === 99) await new Promise(resolve => setImmediate(resolve))
  }
  await client.waitFor(total, isPlay)
  t.same(client.plays().map(e => e.total_plays), Array.from({ length: total }, (_, i) => i + 1), 'every event, in order')
  client.close()
})
