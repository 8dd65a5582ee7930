// Load generation: autocannon on 127.0.0.1, bounded in time, and a plain
// http client for the many-long-streams memory figure.
import autocannon from 'autocannon'
import { createRequire } from 'node:module'
import { Agent, request } from 'node:http'
import { loadMeter, memoryOf, round, waitForQuiet } from './procs.mjs'

const RANGE_BYTES = 256 * 1024

// autocannon 9 decodes every response body into one string (since its PR #301),
// which caps one client near 150 MB/s and would measure autocannon, not the
// servers. No figure here checks bodies, so the bench keeps byte counts only.
const PipelinedRequestsQueue = createRequire(import.meta.url)('autocannon/lib/pipelinedRequestsQueue.js')
PipelinedRequestsQueue.prototype.addBody = function addBody () {}

/** One measured run (after a short warm-up that is thrown away). */
export async function measure ({ server, path, connections, seconds, warmupSeconds = 1, method = 'GET', setupRequest, headers = {}, body }) {
  const request = { method, path, headers, ...(body !== undefined ? { body } : {}), ...(setupRequest !== undefined ? { setupRequest } : {}) }
  const base = { url: server.url, connections, requests: [request], timeout: 30 }
  const waitedSeconds = await waitForQuiet()
  const warm = warmupSeconds > 0 ? await autocannon({ ...base, duration: warmupSeconds }) : undefined
  const meter = loadMeter([server.child.pid])
  const r = await autocannon({ ...base, duration: seconds })
  const load = meter()
  return {
    connections,
    seconds: r.duration,
    requests: r.requests.total,
    requestsPerSecond: round(r['2xx'] / r.duration, 0),
    mbPerSecond: round(r.throughput.total / r.duration / 1e6, 1),
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
    errors: r.errors + r.timeouts + r.non2xx,
    ok: r['2xx'],
    warmupOk: warm?.['2xx'] ?? 0,
    warmupErrors: warm === undefined ? 0 : warm.errors + warm.timeouts + warm.non2xx,
    load: { ...load, waitedForQuietSeconds: waitedSeconds }
  }
}

/**
 * Requests at a steady `rate` over at most `connections` keep-alive
 * connections, for latency at a given load. autocannon's rate options send
 * each second's quota in one burst at the start of the second, which measures
 * its queue at saturation instead. Latency runs from when a request was due,
 * not from when a connection was free to send it, so a server that falls
 * behind shows it (no coordinated omission); requests leave on 1-ms timer
 * ticks, which may add up to a millisecond to a figure, never take it away.
 */
export async function paced ({ server, path, method = 'GET', headers = {}, body, rate, connections, seconds, warmupSeconds = 1, onMeasure = () => {} }) {
  const waitedSeconds = await waitForQuiet()
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const url = new URL(path, server.url)
  const run = async (duration, record) => {
    const latencies = []
    let errors = 0
    let pending = 0
    let done
    const finished = new Promise(resolve => { done = resolve })
    const total = Math.round(rate * duration)
    const start = performance.now()
    let sent = 0
    const fire = due => {
      pending++
      const payload = typeof body === 'function' ? body() : body
      const req = request(url, { method, agent, headers: { ...headers, ...(payload !== undefined ? { 'content-length': Buffer.byteLength(payload) } : {}) } }, res => {
        res.resume()
        res.on('end', () => {
          if (res.statusCode < 200 || res.statusCode > 299) errors++
          else if (record) latencies.push(performance.now() - due)
          if (--pending === 0 && sent === total) done()
        })
      })
      req.on('error', () => {
        errors++
        if (--pending === 0 && sent === total) done()
      })
      req.end(payload)
    }
    while (sent < total) {
      const now = performance.now()
      while (sent < total && start + sent * 1000 / rate <= now) fire(start + sent++ * 1000 / rate)
      // Timer ticks, not a busy loop: the generator shares the two cores with the server.
      await new Promise(resolve => setTimeout(resolve, 1))
    }
    if (pending > 0) await finished
    return { latencies, errors, ok: total - errors, elapsed: (performance.now() - start) / 1000 }
  }
  const warm = warmupSeconds > 0 ? await run(warmupSeconds, false) : undefined
  const meter = loadMeter([server.child.pid])
  onMeasure()
  const { latencies, errors, elapsed } = await run(seconds, true)
  const load = meter()
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const at = q => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN, 2)
  return {
    connections,
    rate,
    seconds: round(elapsed, 2),
    requestsPerSecond: round(latencies.length / elapsed, 0),
    latencyMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
    errors,
    warmupErrors: warm?.errors ?? 0,
    warmupOk: warm?.ok ?? 0,
    ok: latencies.length,
    load: { ...load, waitedForQuietSeconds: waitedSeconds }
  }
}

/**
 * Rounds of one figure measured apart (interleaved with the other servers',
 * so that a burst of other work on the machine falls on all of them alike),
 * as one: rates over the whole time, the mean of the medians, the worst p99.
 */
export function combine (rounds) {
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0)
  const weighted = pick => round(rounds.reduce((n, r) => n + pick(r) * r.seconds, 0) / seconds, 2)
  return {
    connections: rounds[0].connections,
    rounds: rounds.length,
    seconds: round(seconds, 2),
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    requestsPerSecond: round(rounds.reduce((n, r) => n + r.ok, 0) / seconds, 0),
    mbPerSecond: weighted(r => r.mbPerSecond),
    latencyMs: { p50: weighted(r => r.latencyMs.p50), p99: Math.max(...rounds.map(r => r.latencyMs.p99)), max: Math.max(...rounds.map(r => r.latencyMs.max)) },
    errors: rounds.reduce((n, r) => n + r.errors + r.warmupErrors, 0),
    ok: rounds.reduce((n, r) => n + r.ok, 0),
    load: {
      serverCores: weighted(r => r.load.serverCores),
      loadGeneratorCores: weighted(r => r.load.loadGeneratorCores),
      otherCores: weighted(r => r.load.otherCores),
      waitedForQuietSeconds: round(rounds.reduce((n, r) => n + r.load.waitedForQuietSeconds, 0), 1)
    },
    perRound: rounds.map(r => ({ requestsPerSecond: r.requestsPerSecond, p99: r.latencyMs.p99, otherCores: r.load.otherCores }))
  }
}

export function randomRange (size) {
  return () => {
    const start = Math.floor(Math.random() * (size - RANGE_BYTES))
    return `bytes=${start}-${start + RANGE_BYTES - 1}`
  }
}

export const rangeRequest = size => {
  const next = randomRange(size)
  return req => ({ ...req, headers: { ...req.headers, range: next() } })
}

export const randomSegment = segments => () => JSON.stringify({ segment_index: Math.floor(Math.random() * segments) })

export const randomSegmentBody = segments => {
  const next = randomSegment(segments)
  return req => ({ ...req, body: next() })
}

/**
 * `clients` whole-file GETs at once, read as fast as this one process can;
 * the server's memory is sampled until `seconds` have passed, then all are cut.
 */
export async function manyStreams ({ server, path, clients, seconds }) {
  const waitedSeconds = await waitForQuiet()
  const meter = loadMeter([server.child.pid])
  let bytes = 0
  let errors = 0
  let finished = 0
  let peakSampled = 0
  const requests = []
  const url = new URL(path, server.url)
  for (let i = 0; i < clients; i++) {
    const req = request(url, { agent: false }, res => {
      if (res.statusCode !== 200) errors++
      res.on('data', chunk => { bytes += chunk.length })
      res.on('end', () => { finished++ })
      res.on('error', () => {})
    })
    req.on('error', () => { errors++ })
    req.end()
    requests.push(req)
  }
  const started = performance.now()
  while (performance.now() - started < seconds * 1000) {
    peakSampled = Math.max(peakSampled, memoryOf(server.child.pid).rssMb)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const elapsed = (performance.now() - started) / 1000
  const memory = memoryOf(server.child.pid)
  const load = meter()
  for (const req of requests) req.destroy()
  return {
    clients,
    seconds: round(elapsed, 1),
    mbPerSecond: round(bytes / elapsed / 1e6, 0),
    gbDelivered: round(bytes / 1e9, 2),
    finished,
    errors,
    peakRssMb: round(Math.max(memory.peakRssMb, peakSampled), 0),
    load: { ...load, waitedForQuietSeconds: waitedSeconds }
  }
}
