import t from 'tap'
import { ListenerKeys } from '../../../lib/history/listener-key.js'

const DAY1 = Date.UTC(2026, 11, 1, 9)
const DAY2 = Date.UTC(2026, 11, 2, 0, 0, 1)

t.test('the same listener on the same UTC day has one key; the next day an unrelated one', async t => {
  const keys = new ListenerKeys()
  const morning = keys.keyOf('203.0.113.7', 'Firefox/140', DAY1)
  t.equal(keys.keyOf('203.0.113.7', 'Firefox/140', DAY1 + 14 * 3_600_000), morning, 'same listener, same day')
  t.not(keys.keyOf('203.0.113.7', 'Chrome/141', DAY1), morning, 'another browser on the same address is another listener')
  t.not(keys.keyOf('203.0.113.8', 'Firefox/140', DAY1), morning, 'another address is another listener')
  const tomorrow = keys.keyOf('203.0.113.7', 'Firefox/140', DAY2)
  t.not(tomorrow, morning, 'the key rotated at midnight UTC')
  t.match(morning, /^[A-Za-z0-9_-]{22}$/, '16 bytes of hash, nothing else')
  t.notOk(morning.includes('203') || morning.includes('Firefox'), 'the key carries neither address nor browser')
})

t.test('two processes (a restart) never share a key: it is never written down', async t => {
  const a = new ListenerKeys()
  const b = new ListenerKeys()
  t.not(a.keyOf('198.51.100.1', 'ua', DAY1), b.keyOf('198.51.100.1', 'ua', DAY1))
})

t.test('address and User-Agent cannot be shifted into one another', async t => {
  const keys = new ListenerKeys()
  t.not(keys.keyOf('1.2.3.4', '5 ua', DAY1), keys.keyOf('1.2.3.45', ' ua', DAY1))
})
