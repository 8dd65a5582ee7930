import { parentPort, workerData } from 'node:worker_threads'
import { SqliteHistory, type SqliteHistoryOptions } from './sqlite-history.js'

/**
 * Hosts the SQLite history off the main thread: node:sqlite blocks while it
 * writes and fsyncs, and a dashboard query may scan millions of rows; plays
 * are answered meanwhile. One request at a time, in the order sent.
 */
const port = parentPort
if (port === null) throw new Error('history-worker runs as a worker thread')
const { path, options } = workerData as { path: string, options: SqliteHistoryOptions }

let store: SqliteHistory
try {
  store = new SqliteHistory(path, options)
  port.postMessage({ ready: true })
} catch (err) {
  port.postMessage({ ready: false, message: (err as Error).message })
  process.exit(1)
}

port.on('message', (request: { id: number, method: string, args: unknown[] }) => {
  try {
    const method = (store as unknown as Record<string, (...args: unknown[]) => unknown>)[request.method]
    if (typeof method !== 'function') throw new Error(`no such history method: ${request.method}`)
    const value = method.apply(store, request.args)
    port.postMessage({ id: request.id, ok: true, value })
  } catch (err) {
    port.postMessage({ id: request.id, ok: false, message: (err as Error).message, code: (err as { code?: string }).code })
  }
})
