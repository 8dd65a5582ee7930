import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { Type } from 'typebox'
import { EventsQuery, eventsErrorExamples, type PlayEvent } from '../schemas/events.js'
import { errorExamples } from '../schemas/error.js'
import { errorResponse } from '../schemas/responses.js'

export interface EventsOptions {
  /** Milliseconds between heart-beat comments; they keep proxies from timing the stream out and find dead peers. */
  heartbeatMs?: number
  /** Bytes a client may have waiting (in its stream and its socket) before it is dropped as too slow. */
  maxBufferedBytes?: number
  /** Recent events kept for clients that reconnect with Last-Event-ID. */
  replay?: number
}

const EVENT_STREAM = 'text/event-stream; charset=utf-8'
const RETRY_MS = 3000
/** Seconds a refused client should wait before trying again. */
const RETRY_AFTER = 5
const CLOSE_GRACE_MS = 1000

interface Client {
  filename: string | undefined
  stream: Readable
  res: ServerResponse
  log: FastifyBaseLogger
}

/**
 * Server-Sent Events: every recorded play, as it happens. Each client has a
 * bounded queue; one that cannot keep up is disconnected rather than allowed
 * to grow memory, and reconnects (EventSource does so by itself) with
 * Last-Event-ID to get what it missed from a short replay buffer.
 */
const events: FastifyPluginAsyncTypebox<EventsOptions> = async (fastify, opts) => {
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const maxBuffered = opts.maxBufferedBytes ?? 256 * 1024
  const replaySize = opts.replay ?? 256
  const { tracks, degrader, config, metrics } = fastify
  // Event ids are `<boot>-<sequence>`: after a restart old ids name nothing, and the client is told to reload.
  const boot = randomBytes(4).toString('hex')
  let sequence = 0
  const recent: Array<{ sequence: number, filename: string, frame: string }> = []
  const clients = new Set<Client>()
  metrics.countEventsClients(() => clients.size)

  function send (client: Client, frame: string): void {
    if (client.stream.destroyed) return
    client.stream.push(frame)
    const buffered = client.stream.readableLength + client.res.writableLength
    if (buffered > maxBuffered) {
      client.log.warn({ buffered }, 'events: client too slow, disconnected')
      clients.delete(client)
      client.res.destroy()
    }
  }

  function onPlay (play: PlayEvent): void {
    sequence++
    const data: PlayEvent = {
      filename: play.filename,
      segment_index: play.segment_index,
      play_count: play.play_count,
      segment_degradation: play.segment_degradation,
      overall_degradation: play.overall_degradation,
      total_plays: play.total_plays
    }
    publish(play.filename, 'play', data)
  }

  /** A track deleted by the artist: its listeners drop it. */
  function onRemoved ({ filename }: { filename: string }): void {
    sequence++
    publish(filename, 'removed', { filename })
  }

  function publish (filename: string, event: 'play' | 'removed', data: object): void {
    const frame = `id: ${boot}-${sequence}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    recent.push({ sequence, filename, frame })
    if (recent.length > replaySize) recent.shift()
    for (const client of clients) {
      if (client.filename === undefined || client.filename === filename) send(client, frame)
    }
  }

  /** What a reconnecting client missed, or undefined when the replay buffer cannot tell. */
  function missedSince (lastEventId: string | string[] | undefined, filename: string | undefined): string[] | undefined {
    const match = typeof lastEventId === 'string' ? /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastEventId.trim()) : null
    if (match === null || match[1] !== boot) return undefined
    const after = Number(match[2])
    const oldest = recent[0]?.sequence ?? sequence + 1
    if (after > sequence || after < oldest - 1) return undefined
    return recent.filter(e => e.sequence > after && (filename === undefined || e.filename === filename)).map(e => e.frame)
  }

  degrader.events.on('play', onPlay)
  degrader.events.on('removed', onRemoved)
  const heartbeat = setInterval(() => {
    for (const client of clients) send(client, ': heartbeat\n\n')
  }, heartbeatMs)
  heartbeat.unref()

  // Open streams would keep the server from closing: end them first, cut the ones that do not drain.
  fastify.addHook('preClose', async () => {
    clearInterval(heartbeat)
    degrader.events.off('play', onPlay)
    degrader.events.off('removed', onRemoved)
    const open = [...clients]
    clients.clear()
    await Promise.all(open.map(async client => {
      if (client.stream.destroyed) return
      client.stream.push(null)
      const timer = setTimeout(() => client.res.destroy(), CLOSE_GRACE_MS)
      // Settles at once for a response already gone; a premature close is just a client that left.
      await finished(client.res).catch(() => {})
      clearTimeout(timer)
    }))
  })

  fastify.get('/events', {
    exposeHeadRoute: false,
    schema: {
      operationId: 'streamEvents',
      tags: ['events'],
      summary: 'Live plays (Server-Sent Events)',
      description: 'A `text/event-stream` with one `event: play` per recorded play, in the order they were recorded; its `data` is a PlayEvent. An `event: removed` (`data`: `{"filename": ...}`) says a track was deleted. ' +
        '`?filename=` keeps one track\'s plays. A comment line every 15 s keeps the stream alive. ' +
        'A client that falls too far behind is disconnected; on reconnecting with `Last-Event-ID` it receives the plays it missed, ' +
        'or `event: reset` when they are no longer known (reload the state from /tracks and /stats). At most EVENTS_MAX_CLIENTS listeners at once; more get 503 with Retry-After.',
      querystring: EventsQuery,
      response: {
        200: {
          description: 'The event stream; it never ends on its own. The `data` of each `event: play` is a PlayEvent.',
          content: { 'text/event-stream': { schema: Type.String({ contentMediaType: 'text/event-stream', contentSchema: Type.Ref('PlayEvent') }) } }
        },
        400: errorResponse('The filename filter is not a WAV file name, or the query has unknown parameters', eventsErrorExamples.badFilename),
        404: errorResponse('The filename filter names no track', errorExamples.trackNotFound),
        422: errorResponse('The filename filter names a file the service cannot play', errorExamples.unplayable),
        503: errorResponse('Too many live listeners already', eventsErrorExamples.tooManyListeners, {
          'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before connecting again', examples: [5] })
        })
      }
    }
  }, async (request, reply) => {
    const { filename } = request.query
    if (filename !== undefined) await tracks.get(filename)
    if (clients.size >= config.eventsMaxClients) {
      // Answered here: the error handler reports every 5xx as an internal error, and this one is not.
      return await reply.code(503).header('retry-after', String(RETRY_AFTER)).send({
        statusCode: 503, error: 'Service Unavailable', message: `${clients.size} live listeners already: try again in ${RETRY_AFTER} s`, code: 'EA_TOO_MANY_LISTENERS'
      })
    }

    const stream = new Readable({ read () {} })
    const client: Client = { filename, stream, res: reply.raw, log: request.log }
    clients.add(client)
    stream.on('close', () => clients.delete(client))

    stream.push(`: ephemeral-audio live plays\nretry: ${RETRY_MS}\n\n`)
    const lastEventId = request.headers['last-event-id']
    if (lastEventId !== undefined) {
      const missed = missedSince(lastEventId, filename)
      if (missed === undefined) stream.push('event: reset\ndata: {}\n\n')
      else for (const frame of missed) stream.push(frame)
    }

    return await reply
      .header('content-type', EVENT_STREAM)
      .header('cache-control', 'no-cache, no-transform')
      // nginx and similar proxies buffer responses unless told not to.
      .header('x-accel-buffering', 'no')
      .send(stream)
  })
}

export default events
