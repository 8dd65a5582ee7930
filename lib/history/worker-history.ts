import { Worker } from 'node:worker_threads'
import { workerOptions, workerUrl } from '../worker-source.js'
import type { HistoryStore } from './history-store.js'
import type { SqliteHistoryOptions } from './sqlite-history.js'

/** The HistoryStore contract, asynchronously: every call answers from the worker. */
export type AsyncHistory = { [K in keyof HistoryStore]: (...args: Parameters<HistoryStore[K]>) => Promise<ReturnType<HistoryStore[K]>> }

export class HistoryError extends Error {
  readonly code: string | undefined
  constructor (message: string, code?: string) {
    super(message)
    this.code = code
  }
}

/** Start the SQLite history at `path` in a worker thread; rejects when the database cannot be opened. */
export async function openWorkerHistory (path: string, options: SqliteHistoryOptions = {}): Promise<AsyncHistory> {
  const worker = new Worker(workerUrl(import.meta.url, 'history-worker'), workerOptions(import.meta.url, { workerData: { path, options } }))
  const pending = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()
  let nextId = 0
  let failure: Error | undefined

  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ready: boolean, message?: string }) => {
      if (m.ready) resolve()
      else reject(new HistoryError(`history database ${path}: ${m.message ?? 'cannot be opened'}`))
    })
    worker.once('error', reject)
  })
  worker.on('message', (m: { id: number, ok: boolean, value?: unknown, message?: string, code?: string }) => {
    const call = pending.get(m.id)
    pending.delete(m.id)
    if (pending.size === 0) worker.unref()
    if (m.ok) call?.resolve(m.value)
    else call?.reject(new HistoryError(m.message ?? 'history call failed', m.code))
  })
  const fail = (err: Error): void => {
    failure ??= err
    for (const call of pending.values()) call.reject(failure)
    pending.clear()
  }
  worker.on('error', fail)
  worker.on('exit', code => fail(new HistoryError(`the history worker stopped (exit code ${code})`)))
  // A worker waiting for work must not hold the process open; one with calls to answer does.
  worker.unref()

  async function call (method: keyof HistoryStore, args: unknown[]): Promise<never> {
    if (failure !== undefined) throw failure
    return await new Promise((resolve, reject) => {
      const id = nextId++
      if (pending.size === 0) worker.ref()
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      worker.postMessage({ id, method, args })
    })
  }

  return {
    record: async (...args) => await call('record', args),
    continueLife: async (...args) => await call('continueLife', args),
    history: async (...args) => await call('history', args),
    analytics: async (...args) => await call('analytics', args),
    forget: async (...args) => await call('forget', args),
    prune: async (...args) => await call('prune', args),
    async close () {
      if (failure !== undefined) return
      await call('close', [])
      await worker.terminate()
    }
  }
}
