// Tests run the TypeScript sources on Node's own type stripping (tap's
// "type-strip-only"): no compiler, so a test process starts in milliseconds.
// The sources import each other as `.js` (what the build emits); this hook
// maps a relative `.js` that does not exist to its `.ts`. The same hook is
// what lib/worker-source.ts gives workers.
import { registerHooks } from 'node:module'

registerHooks({
  resolve (specifier, context, next) {
    try {
      return next(specifier, context)
    } catch (err) {
      if (!/^\.{1,2}\/.*\.js$/.test(specifier)) throw err
      return next(specifier.slice(0, -3) + '.ts', context)
    }
  }
})
