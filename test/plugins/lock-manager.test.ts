import t from 'tap'
import Fastify from 'fastify'
import type { Test } from 'tap'
import lockManagerPlugin from '../../plugins/app/lock-manager.js'

async function locks (t: Test) {
  const app = Fastify()
  await app.register(lockManagerPlugin)
  await app.ready()
  t.teardown(() => app.close())
  return app.locks
}

const tick = async (ms = 5) => await new Promise(resolve => setTimeout(resolve, ms))

/** Run `work` and record when it started and ended, in the shared log. */
function traced (log: string[], name: string, ms = 10) {
  return async () => { log.push(`${name}+`); await tick(ms); log.push(`${name}-`); return name }
}

t.test('work on one segment is serialised; other segments and tracks run alongside', async t => {
  const l = await locks(t)
  const log: string[] = []
  await Promise.all([
    l.segment('a', 0, traced(log, 'a0.1')),
    l.segment('a', 0, traced(log, 'a0.2')),
    l.segment('a', 1, traced(log, 'a1')),
    l.segment('b', 0, traced(log, 'b0'))
  ])
  t.ok(log.indexOf('a0.1-') < log.indexOf('a0.2+'), 'the second play of a:0 starts after the first ends')
  t.ok(log.indexOf('a1+') < log.indexOf('a0.1-') && log.indexOf('b0+') < log.indexOf('a0.1-'), 'a:1 and b:0 did not wait')
  t.equal(l.active, 0, 'idle locks are dropped')
})

t.test('whole-track work waits for plays in flight and holds new ones back; other tracks carry on', async t => {
  const l = await locks(t)
  const log: string[] = []
  const first = l.segment('a', 0, traced(log, 'play1', 20))
  await tick(1)
  const reset = l.track('a', traced(log, 'reset', 20))
  await tick(1)
  const later = l.segment('a', 1, traced(log, 'play2'))
  const other = l.segment('b', 0, traced(log, 'other'))
  t.same(await Promise.all([first, reset, later, other]), ['play1', 'reset', 'play2', 'other'])
  t.ok(log.indexOf('play1-') < log.indexOf('reset+'), 'the reset waited for the play in flight')
  t.ok(log.indexOf('reset-') < log.indexOf('play2+'), 'the later play waited for the reset')
  t.ok(log.indexOf('other+') < log.indexOf('reset-'), 'another track was not held back')
  t.equal(l.active, 0)
})

t.test('an error in the work releases the lock', async t => {
  const l = await locks(t)
  await t.rejects(l.segment('a', 0, async () => { throw new Error('boom') }), /boom/)
  await t.rejects(l.track('a', async () => { throw new Error('bang') }), /bang/)
  t.equal(await l.segment('a', 0, async () => 'free'), 'free')
  t.equal(l.active, 0)
})
