import type { WorkerOptions } from 'node:worker_threads'

/**
 * Run from the TypeScript sources (the tests), a worker would start the
 * parent's TypeScript loader again, which takes seconds. Node's own type
 * stripping does it in milliseconds; this hook only maps the `.js` of
 * relative imports to the `.ts` files. (Every file a worker loads must
 * therefore use erasable syntax only: no enums, no parameter properties.)
 */
const SOURCE_HOOK = `import { registerHooks } from 'node:module'
registerHooks({ resolve (specifier, context, next) {
  try { return next(specifier, context) } catch (err) {
    if (!/^\\.{1,2}\\/.*\\.js$/.test(specifier)) throw err
    return next(specifier.slice(0, -3) + '.ts', context)
  }
} })`
const SOURCE_EXEC_ARGV = ['--import', `data:text/javascript,${encodeURIComponent(SOURCE_HOOK)}`]

/** Options for a worker started by the module at `parentUrl`: from the sources, with the hook above. */
export function workerOptions (parentUrl: string, options: WorkerOptions = {}): WorkerOptions {
  return parentUrl.endsWith('.ts') ? { ...options, execArgv: SOURCE_EXEC_ARGV } : options
}

/** The URL of a worker module next to `parentUrl`, `name` given without extension. */
export function workerUrl (parentUrl: string, name: string): URL {
  return new URL(`./${name}${parentUrl.endsWith('.ts') ? '.ts' : '.js'}`, parentUrl)
}
