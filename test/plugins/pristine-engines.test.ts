import t from 'tap'
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWavIo } from '../../plugins/app/wav-io.js'
import { renderWholeTrack, untouchedSegmentsMatch } from '../../plugins/app/pristine.js'
import { freshMetadata } from '../../lib/track-metadata.js'
import { readFromFor, renderFrames } from '../../lib/engines/segment.js'
import { engineTrackOf } from '../../lib/engines/track-render.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { readWavLayout } from '../../lib/riff.js'

const RATE = 10

/**
 * A kill -9 between a play's journal record and its write can leave the next
 * segment's cross-fade head rendered at any count the played segment passed
 * through. That is the service's own write, not a hand edit.
 */
t.test('a float engine track: a head rendered at an intermediate count of a replayed neighbour is our own write; an edit is not', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-pristine-engine-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const wav = createWavIo()
  const pristine = await writeTestWav(join(dir, 'pristine.wav'), { frames: 8000 * 2, channels: 1 })
  const path = join(dir, 'a.wav')
  await writeFile(path, await readFile(pristine.path))
  const handle = await open(path, 'r')
  const layout = await readWavLayout(handle)
  await handle.close()
  const meta = {
    ...freshMetadata({ filename: 'a.wav', title: 'a', layout, segmentDuration: 0.5, totalSegments: 4, file: { size: 0, mtime_ms: 0 }, engine: 'tape' }),
    segment_play_counts: [2, 0, 0, 0]
  }
  const track = { path, pristinePath: pristine.path, meta }
  await renderWholeTrack(wav, track, RATE)

  // Segment 0 was played twice more (the journal says 4); the crash came after the write at 3, before the one at 4.
  const atThree = engineTrackOf({ ...meta, segment_play_counts: [3, 0, 0, 0] }, RATE)!
  const from = 4000
  const span = { from, to: from + 40, readFrom: readFromFor(atThree, from) }
  const source = (await readFile(pristine.path)).subarray(layout.dataOffset + span.readFrom * 2, layout.dataOffset + span.to * 2)
  const head = renderFrames(atThree, span, source)
  const file = await open(path, 'r+')
  await file.write(head, 0, head.length, layout.dataOffset + from * 2)
  await file.close()
  t.ok(await untouchedSegmentsMatch(wav, track, new Map([[0, 4]]), RATE), 'our own write')

  // A hand edit in the middle of segment 1 is still seen.
  const edit = await open(path, 'r+')
  await edit.write(Buffer.alloc(2000, 7), 0, 2000, layout.dataOffset + 5000 * 2)
  await edit.close()
  t.notOk(await untouchedSegmentsMatch(wav, track, new Map([[0, 4]]), RATE), 'an edit')
})
