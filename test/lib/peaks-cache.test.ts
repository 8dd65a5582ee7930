import t from 'tap'
import { VersionCache } from '../../lib/peaks-cache.js'

t.test('keeps bodies within its byte budget, least recently used out first', async t => {
  const cache = new VersionCache<string>(40, s => s.length)
  cache.set('a', 'a1', 'x'.repeat(10))
  cache.set('a', 'a2', 'y'.repeat(10))
  cache.set('b', 'b1', 'z'.repeat(10))
  t.equal(cache.bytes, 30)
  t.equal(cache.get('a1'), 'x'.repeat(10), 'a read makes a1 the most recent')
  cache.set('b', 'b2', 'w'.repeat(10))
  cache.set('b', 'b3', 'v'.repeat(10))
  t.equal(cache.get('a2'), undefined, 'a2, the least recently used, went first')
  t.equal(cache.get('a1'), 'x'.repeat(10))
  t.equal(cache.size, 4)
  t.equal(cache.bytes, 40)
})

t.test('replacing a key counts its bytes once', async t => {
  const cache = new VersionCache<string>(100, s => s.length)
  cache.set('a', 'k', 'x'.repeat(20))
  cache.set('a', 'k', 'y'.repeat(5))
  t.equal(cache.bytes, 5)
  t.equal(cache.get('k'), 'yyyyy')
})

t.test('a body over a quarter of the budget is not kept', async t => {
  const cache = new VersionCache<string>(100, s => s.length)
  cache.set('a', 'small', 'x'.repeat(25))
  cache.set('a', 'big', 'x'.repeat(26))
  t.equal(cache.get('big'), undefined)
  t.equal(cache.get('small'), 'x'.repeat(25), 'and nothing else was evicted for it')
})

t.test('dropGroup forgets one track and no other', async t => {
  const cache = new VersionCache<string>(100, s => s.length)
  cache.set('a.wav', 'a1', 'one')
  cache.set('b.wav', 'b1', 'two')
  cache.set('a.wav', 'a2', 'three')
  cache.dropGroup('a.wav')
  t.equal(cache.get('a1'), undefined)
  t.equal(cache.get('a2'), undefined)
  t.equal(cache.get('b1'), 'two')
  t.equal(cache.bytes, 3)
})

t.test('shared runs one computation for concurrent callers, and forgets it when settled', async t => {
  const cache = new VersionCache<string>(100, s => s.length)
  let runs = 0
  let release: (value: string) => void = () => {}
  const compute = async () => {
    runs++
    return await new Promise<string>(resolve => { release = resolve })
  }
  const first = cache.shared('k', compute)
  const second = cache.shared('k', compute)
  release('body')
  t.same(await Promise.all([first, second]), ['body', 'body'])
  t.equal(runs, 1)
  await cache.shared('k', async () => { runs++; return 'again' })
  t.equal(runs, 2, 'a later call computes again')

  const failing = cache.shared('f', async () => { throw new Error('disk gone') })
  const joined = cache.shared('f', async () => 'never')
  await t.rejects(failing, /disk gone/)
  await t.rejects(joined, /disk gone/, 'callers that joined see the same failure')
  t.equal(await cache.shared('f', async () => 'recovered'), 'recovered', 'a failure is not remembered')
})
