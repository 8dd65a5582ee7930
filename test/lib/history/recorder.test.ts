import t from 'tap'
import { HistoryRecorder } from '../../../lib/history/recorder.js'
import type { AsyncHistory } from '../../../lib/history/worker-history.js'
import type { ListenEvent, PlayEvent } from '../../../lib/history/history-store.js'

/** A history that records what it is given and refuses while `full` is set, as a full disk would. */
function fakeHistory () {
  const state = { full: false, batches: [] as Array<{ plays: number, listens: number }>, calls: [] as string[] }
  const history = {
    async record (plays: readonly PlayEvent[], listens: readonly ListenEvent[]) {
      state.calls.push('record')
      if (state.full) throw Object.assign(new Error('database or disk is full'), { code: 'ERR_SQLITE_ERROR' })
      state.batches.push({ plays: plays.length, listens: listens.length })
    },
    async forget () { state.calls.push('forget') }
  } as unknown as AsyncHistory
  return { history, state }
}

const log = { warns: [] as string[], errors: [] as string[] }
const logger = { warn: (_: object, msg: string) => log.warns.push(msg), error: (_: object, msg: string) => log.errors.push(msg) }
const play = (count: number): PlayEvent => ({ trackId: 'id', filename: 'a.wav', segment: 0, count, at: 1, before: 0 })
const listen = (): ListenEvent => ({ trackId: 'id', filename: 'a.wav', at: 1, before: 0 })

t.test('events wait in memory and go to the history as one batch', async t => {
  const { history, state } = fakeHistory()
  const recorder = new HistoryRecorder({ history, log: logger, flushMs: 60_000 })
  t.teardown(async () => await recorder.close())
  for (let i = 1; i <= 10; i++) recorder.play(play(i))
  recorder.listen(listen())
  t.same(state.batches, [], 'nothing written on the request path')
  await recorder.flush()
  t.same(state.batches, [{ plays: 10, listens: 1 }])
  await recorder.flush()
  t.same(state.batches.length, 1, 'an empty flush writes nothing')
})

t.test('a full batch is written at once, without waiting for the timer', async t => {
  const { history, state } = fakeHistory()
  const recorder = new HistoryRecorder({ history, log: logger, flushMs: 60_000, maxBatch: 3 })
  t.teardown(async () => await recorder.close())
  for (let i = 1; i <= 3; i++) recorder.play(play(i))
  await new Promise(resolve => setImmediate(resolve))
  t.same(state.batches, [{ plays: 3, listens: 0 }])
})

t.test('a batch the history refuses (a full disk) is kept and written once it accepts again', async t => {
  const { history, state } = fakeHistory()
  const recorder = new HistoryRecorder({ history, log: logger, flushMs: 60_000 })
  t.teardown(async () => await recorder.close())
  state.full = true
  recorder.play(play(1))
  await recorder.flush()
  t.equal(recorder.failures, 1)
  t.match(log.errors.at(-1), /kept to try again/)
  recorder.play(play(2))
  state.full = false
  await recorder.flush()
  t.same(state.batches, [{ plays: 2, listens: 0 }], 'the refused play and the new one, together')
})

t.test('while the history refuses for long, memory stays bounded: the oldest events go first', async t => {
  const { history, state } = fakeHistory()
  const recorder = new HistoryRecorder({ history, log: logger, flushMs: 60_000, maxQueued: 5 })
  t.teardown(async () => await recorder.close())
  state.full = true
  for (let i = 1; i <= 4; i++) recorder.play(play(i))
  for (let i = 0; i < 4; i++) recorder.listen(listen())
  await recorder.flush()
  t.equal(recorder.dropped, 3)
  t.match(log.warns.at(-1), /oldest waiting events were dropped/)
  state.full = false
  await recorder.flush()
  t.same(state.batches, [{ plays: 4, listens: 1 }], 'listens (not replayable from the journal) are dropped before plays')
})

t.test('a lifecycle change runs after the events before it and before those after it', async t => {
  const { history, state } = fakeHistory()
  const recorder = new HistoryRecorder({ history, log: logger, flushMs: 60_000 })
  t.teardown(async () => await recorder.close())
  recorder.play(play(1))
  const forgotten = recorder.after(async h => await h.forget('a.wav'))
  recorder.play(play(2))
  await forgotten
  await recorder.flush()
  t.same(state.calls, ['record', 'forget', 'record'])
})
