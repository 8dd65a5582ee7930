import { parentPort } from 'node:worker_threads'
import type { JobStart } from './protocol.js'
import { runJob } from './run-job.js'

if (parentPort === null) throw new Error('lib/decode/worker runs in a worker thread')

// The WASM decoders print about every bad frame; a job reports its errors in its result instead.
const quiet = (): void => {}
console.log = quiet
console.info = quiet
console.warn = quiet
console.error = quiet

// runJob reports its own failures to the job's sender and never rejects.
parentPort.on('message', (start: JobStart) => { runJob(start).catch(() => {}) })
