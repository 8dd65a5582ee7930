/**
 * The plumbing between decodeToWav and its workers: the job protocol run on
 * this thread, jobs whose worker crashes or will not stop, and the pool.
 */
import { once } from 'node:events'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads'
import t from 'tap'
import { DecodeJob } from '../../../lib/decode/job.js'
import type { FromJob, ToJob } from '../../../lib/decode/protocol.js'
import { runJob } from '../../../lib/decode/run-job.js'
import { WorkerPool } from '../../../lib/decode/worker-pool.js'
import { makeSignal, sox } from './fixtures.js'

const dir = t.testdir({})
await makeSignal(join(dir, 's.wav'), { rate: 22050, seconds: 0.5 })
await sox(join(dir, 's.wav'), '-t', 'flac', join(dir, 's.flac'))
const flac = await readFile(join(dir, 's.flac'))

/** A job run here, its messages collected until the last one. */
async function jobHere (format: 'flac' | 'wav', send: (port: MessagePort) => void): Promise<FromJob[]> {
  const handle = await open(join(dir, `here-${Math.random()}.wav`), 'w+')
  const { port1, port2 } = new MessageChannel()
  const messages: FromJob[] = []
  const last = new Promise<void>(resolve => port1.on('message', (message: FromJob) => {
    messages.push(message)
    if (message.type !== 'taken') resolve()
  }))
  const running = runJob({ port: port2, format, fd: handle.fd, maxFileBytes: 1 << 30 })
  send(port1)
  await running
  await last
  port1.close()
  await handle.close()
  return messages
}

const post = (port: MessagePort, message: ToJob) => port.postMessage(message)

t.test('a job takes chunks (saying so), and ends with one last message', async t => {
  const done = await jobHere('flac', port => {
    post(port, { type: 'chunk', bytes: flac.subarray(0, 1000) })
    post(port, { type: 'chunk', bytes: flac.subarray(1000) })
    post(port, { type: 'end' })
  })
  t.same(done.filter(m => m.type === 'taken').map(m => m.type === 'taken' && m.bytes), [1000, flac.length - 1000])
  t.match(done.at(-1), { type: 'done', decoded: { sampleRate: 22050, channels: 2, frames: 11025 } })

  const failed = await jobHere('flac', port => {
    post(port, { type: 'chunk', bytes: flac.subarray(0, 20) })
    post(port, { type: 'end' })
  })
  t.match(failed.at(-1), { type: 'failed', error: { upload: true, code: 'EA_CORRUPT_AUDIO' } })

  const cancelled = await jobHere('flac', port => {
    post(port, { type: 'chunk', bytes: flac.subarray(0, 1000) })
    post(port, { type: 'cancel' })
  })
  t.same(cancelled.at(-1), { type: 'cancelled' })
})

/** A pool that starts a stand-in worker running `source`. */
function standIn (source: string): WorkerPool {
  return new WorkerPool({ spawn: () => new Worker(`const { parentPort } = require('node:worker_threads');\n${source}`, { eval: true }) })
}

t.test('a worker that crashes fails its job (and is not reused)', async t => {
  const exits = new DecodeJob('flac', -1, 1000, { pool: standIn('parentPort.once("message", () => process.exit(3))') })
  await t.rejects(exits.result, { message: 'the decoder worker stopped (exit code 3)' })
  const throws = new DecodeJob('flac', -1, 1000, { pool: standIn('parentPort.once("message", () => { throw new Error("boom") })') })
  await t.rejects(throws.result, { message: 'boom' })
})

t.test('a file that needs more memory than a worker has: 422, and only that worker is lost', async t => {
  const pool = new WorkerPool({
    spawn: () => new Worker(`require('node:worker_threads').parentPort.once('message', () => {
      const hoard = []
      for (;;) hoard.push({ at: hoard.length })
    })`, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 } })
  })
  const job = new DecodeJob('flac', -1, 1000, { pool })
  await t.rejects(job.result, { code: 'EA_UNPLAYABLE_AUDIO', message: /more memory than the service gives one upload/ })
})

t.test('a job that does not answer a cancel is stopped with its worker', async t => {
  const pool = standIn('parentPort.on("message", () => {})')
  const job = new DecodeJob('flac', -1, 1000, { pool, cancelMs: 50 })
  await job.cancel()
  await t.rejects(job.result, { message: 'the decoding job did not stop when cancelled' })
  t.equal(pool.idleCount, 0)
  await job.cancel()
  t.pass('cancelling an ended job is a no-op')
})

t.test('the sender waits while a megabyte is in flight, and goes on as the worker takes it', async t => {
  // A stand-in that takes chunks only when told to, then answers done.
  const pool = standIn(`parentPort.on('message', ({ port }) => {
    const held = []
    port.on('message', message => {
      if (message.type === 'chunk') held.push(message.bytes.length)
      if (message.type === 'end') {
        for (const bytes of held) port.postMessage({ type: 'taken', bytes })
        port.postMessage({ type: 'done', decoded: undefined })
      }
    })
  })`)
  const job = new DecodeJob('wav', -1, 1000, { pool })
  job.send(Buffer.alloc(600_000))
  await job.room()
  job.send(Buffer.alloc(600_000))
  let roomy = false
  const room = job.room().then(() => { roomy = true })
  await sleep(20)
  t.notOk(roomy, 'over a megabyte in flight: wait')
  job.finishInput()
  await room
  t.equal(await job.result, undefined)
  t.equal(pool.idleCount, 1, 'a sound worker goes back to the pool')
})

t.test('the pool keeps a few idle workers, unreferenced, and stops them after a while', async t => {
  const spawn = () => new Worker('require("node:worker_threads").parentPort.on("message", () => {})', { eval: true })
  const pool = new WorkerPool({ maxIdle: 1, idleMs: 60_000, spawn })
  const a = pool.acquire()
  const b = pool.acquire()
  const bExits = once(b, 'exit')
  pool.release(a)
  pool.release(b)
  await bExits
  t.equal(pool.idleCount, 1, 'one kept, the other stopped')
  t.equal(pool.acquire(), a, 'and reused')
  await pool.discard(a)
  t.equal(pool.idleCount, 0)

  const brief = new WorkerPool({ idleMs: 20, spawn })
  const c = brief.acquire()
  const cExits = once(c, 'exit')
  brief.release(c)
  t.equal(brief.idleCount, 1)
  // Idle workers and their timers are unreferenced: keep this test alive meanwhile.
  await Promise.race([cExits, sleep(5000)])
  t.equal(brief.idleCount, 0, 'stopped once idle too long')
})
