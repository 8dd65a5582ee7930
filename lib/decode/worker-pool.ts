import { Worker } from 'node:worker_threads'

const FROM_SOURCES = import.meta.url.endsWith('.ts')
const WORKER_URL = new URL(FROM_SOURCES ? './worker.ts' : './worker.js', import.meta.url)
/**
 * Run from the TypeScript sources (the tests), the worker would start the
 * parent's TypeScript loader again, which takes seconds. Node's own type
 * stripping does it in milliseconds; this hook only maps the `.js` of
 * relative imports to the `.ts` files. (Every file the worker loads must
 * therefore use erasable syntax only: no enums, no parameter properties.)
 */
const SOURCE_HOOK = `import { registerHooks } from 'node:module'
registerHooks({ resolve (specifier, context, next) {
  try { return next(specifier, context) } catch (err) {
    if (!/^\\.{1,2}\\/.*\\.js$/.test(specifier)) throw err
    return next(specifier.slice(0, -3) + '.ts', context)
  }
} })`
const WORKER_OPTIONS = FROM_SOURCES ? { execArgv: ['--import', `data:text/javascript,${encodeURIComponent(SOURCE_HOOK)}`] } : {}
/** Workers kept warm between uploads: starting one (and compiling a decoder) takes tens of ms. */
const MAX_IDLE_WORKERS = 2
const IDLE_MS = 30_000

const idle: Worker[] = []
const idleTimers = new Map<Worker, NodeJS.Timeout>()

function forget (worker: Worker): void {
  const index = idle.indexOf(worker)
  if (index >= 0) idle.splice(index, 1)
  clearTimeout(idleTimers.get(worker))
  idleTimers.delete(worker)
}

/** A worker for one job: an idle one, or a new one. */
export function acquireWorker (): Worker {
  const warm = idle.pop()
  if (warm !== undefined) {
    forget(warm)
    warm.ref()
    return warm
  }
  const worker = new Worker(WORKER_URL, WORKER_OPTIONS)
  // An idle worker that fails is simply dropped; a busy one's job hears of it.
  worker.on('error', () => forget(worker))
  worker.on('exit', () => forget(worker))
  return worker
}

/** Give back a worker whose job ended cleanly; it must not keep the process alive. */
export function releaseWorker (worker: Worker): void {
  if (idle.length >= MAX_IDLE_WORKERS) {
    worker.terminate().catch(() => {})
    return
  }
  worker.unref()
  idle.push(worker)
  const timer = setTimeout(() => {
    forget(worker)
    worker.terminate().catch(() => {})
  }, IDLE_MS)
  timer.unref()
  idleTimers.set(worker, timer)
}

/** Stop a worker whose state is unknown (it crashed, or a job would not stop). */
export async function discardWorker (worker: Worker): Promise<void> {
  forget(worker)
  await worker.terminate()
}
