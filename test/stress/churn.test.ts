import t from 'tap'
import { mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startService } from '../service-process.js'
import { buildTestApp } from '../helper.js'
import { writeTestWav } from '../fixtures/wav-fixtures.js'
import { renderSegment } from '../../lib/render.js'
import { segmentSpan } from '../../lib/wav-format.js'
import type { TrackMetadata } from '../../lib/track-metadata.js'

// Everything at once, against a real process, then kill -9 and a restart:
// tracks appear, are replaced and removed, resets and plays run from several
// clients. Afterwards every acknowledged play is counted for the identity it
// was acknowledged for, and every file on disk equals its rendering.

const RUN_MS = 20_000
const NAMES = ['a.wav', 'b.wav', 'c.wav', 'd.wav', 'e.wav']
const SEGMENTS = 4
const TOKEN = 'stress'
const RATE = 5

/** A small deterministic generator, so a failure can be replayed. */
function generator (seed: number) {
  let s = seed >>> 0
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s % n
  }
}

interface Ack { name: string, segment: number, count: number, sentAt: number }

t.test('plays, new files, replacements, removals and resets at once, then kill -9: nothing acknowledged is lost or misplaced', async t => {
  const root = await mkdtemp(join(tmpdir(), 'ephemeral-churn-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const audioDir = join(root, 'audio')
  const metadataDir = join(root, 'metadata')
  let generation = 0
  /** Write a new file of its own shape and move it in at once, as an artist's upload would. */
  const putFile = async (name: string) => {
    const temp = join(root, `incoming-${generation}.tmp`)
    await writeTestWav(temp, { frames: 4000 * SEGMENTS + (generation++ % 3) * 10, channels: 1 + (generation % 2), sampleRate: 8000 })
    await rename(temp, join(audioDir, name))
  }
  await mkdir(audioDir, { recursive: true })
  await writeTestWav(join(audioDir, NAMES[0]!), { frames: 4000 * SEGMENTS })
  const service = await startService({ AUDIO_DIR: audioDir, METADATA_DIR: metadataDir, DEGRADE_RATE_LIMIT: '0', DEGRADATION_RATE: String(RATE), ADMIN_TOKEN: TOKEN, CHECKPOINT_INTERVAL: '0.2' })

  const acks: Ack[] = []
  const statuses = new Map<number, number>()
  /** When each name last changed identity (replaced, removed, re-added, reset): plays sent after it belong to the new one. */
  const changedAt = new Map<string, number>()
  const started = Date.now()
  let stop = false
  const stopped = () => stop
  const random = generator(7)

  const player = async (seed: number) => {
    const pick = generator(seed)
    while (!stopped()) {
      const name = NAMES[pick(NAMES.length)]!
      const segment = pick(SEGMENTS)
      const sentAt = Date.now()
      try {
        const res = await fetch(`${service.url}/degrade/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        const body = await res.json() as { play_count?: number }
        if (res.status === 200) acks.push({ name, segment, count: body.play_count!, sentAt })
      } catch { /* the service was killed */ }
    }
  }
  const churn = async () => {
    while (Date.now() - started < RUN_MS) {
      const name = NAMES[random(NAMES.length)]!
      const action = random(4)
      if (action === 0 || action === 1) await putFile(name)
      else if (action === 2) await rm(join(audioDir, name), { force: true })
      else {
        const res = await fetch(`${service.url}/reset/${name}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      }
      changedAt.set(name, Date.now())
      await fetch(`${service.url}/tracks`).then(async r => await r.arrayBuffer()).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 50 + random(150)))
    }
    // Every name present at the end, and one last burst of plays before the kill.
    for (const name of NAMES) {
      const exists = await open(join(audioDir, name)).then(async f => { await f.close(); return true }, () => false)
      if (!exists) { await putFile(name); changedAt.set(name, Date.now()) }
    }
    await new Promise(resolve => setTimeout(resolve, 1500))
    service.child.kill('SIGKILL')
    stop = true
  }
  await Promise.all([churn(), ...[1, 2, 3, 4, 5, 6].map(player)])
  t.equal((await service.exited).signal, 'SIGKILL')
  t.notOk(statuses.has(500), `no 500 among ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.ok((statuses.get(200) ?? 0) > 500, `${statuses.get(200)} plays acknowledged`)

  const { app } = await buildTestApp(t, { dirs: { audioDir, metadataDir }, env: { DEGRADATION_RATE: RATE } })
  for (const name of NAMES) {
    const stats = (await app.inject(`/stats/${name}`)).json() as { segment_play_counts: number[] }
    const meta = JSON.parse(await readFile(join(metadataDir, name.replace('.wav', '.json')), 'utf8')) as TrackMetadata
    t.same(stats.segment_play_counts, meta.segment_play_counts, `${name}: the metadata file says what the service says`)
    // Plays sent after the name's last change can only belong to its current identity.
    const settled = acks.filter(a => a.name === name && a.sentAt > (changedAt.get(name) ?? 0))
    for (let s = 0; s < SEGMENTS; s++) {
      const acknowledged = Math.max(0, ...settled.filter(a => a.segment === s).map(a => a.count))
      if ((stats.segment_play_counts[s] ?? 0) < acknowledged) t.fail(`${name} segment ${s}: ${stats.segment_play_counts[s]} counted < ${acknowledged} acknowledged`)
    }
    t.ok(settled.length > 0, `${name}: ${settled.length} plays acknowledged for its final identity`)
    // The file is its pristine copy rendered at its counts, segment by segment.
    const [audio, pristine] = await Promise.all([readFile(join(audioDir, name)), readFile(join(metadataDir, 'originals', name))])
    t.equal(audio.length, pristine.length, `${name}: the pristine copy is this file's`)
    for (let s = 0; s < meta.total_segments; s++) {
      const span = segmentSpan(meta.layout, meta.segment_duration, s)
      const expected = renderSegment(pristine.subarray(span.byteOffset, span.byteOffset + span.byteLength), meta.layout.format, {
        seed: meta.track_id, segmentIndex: s, plays: meta.segment_play_counts[s] ?? 0, baselinePlays: meta.baseline_play_counts[s] ?? 0, ratePercent: RATE
      })
      if (!audio.subarray(span.byteOffset, span.byteOffset + span.byteLength).equals(expected)) t.fail(`${name} segment ${s} differs from its rendering`)
    }
  }
})
