/**
 * How much memory a backup and a restore of one large track take: run by
 * hand (BACKUP_MEASURE=1; add --node-arg=--expose-gc for a steadier
 * baseline), not in the suite, where it would cost seconds and disk.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { createBackupStream, readBackup } from '../../../lib/backup/index.js'
import { readWavLayout } from '../../../lib/riff.js'
import { freshMetadata } from '../../../lib/track-metadata.js'
import { segmentCount, type WavFormat } from '../../../lib/wav-format.js'
import { writeWavFile } from '../../../lib/wav-writer.js'

const MiB = 1024 * 1024
const SIZE_MIB = Number(process.env.BACKUP_MEASURE_MIB ?? 200)

t.test('memory while backing up and restoring one large track', { skip: process.env.BACKUP_MEASURE === '1' ? false : 'set BACKUP_MEASURE=1 to measure' }, async t => {
  const dir = t.testdir({ audio: {} })
  const path = join(dir, 'audio', 'large.wav')
  const format: WavFormat = { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate: 48000, blockAlign: 4 }
  await writeWavFile(path, format, SIZE_MIB * MiB, noisyAudio(SIZE_MIB))
  const file = await open(path, 'r')
  const layout = await readWavLayout(file).finally(() => file.close())
  const { size, mtimeMs, ino } = await stat(path)
  const metadata = freshMetadata({ filename: 'large.wav', title: 'large', layout, segmentDuration: 1, totalSegments: segmentCount(layout, 1), file: { size, mtime_ms: mtimeMs, ino } })

  const archive = join(dir, 'backup.tar.gz')
  const written = await measured(async () => {
    await pipeline(createBackupStream([{ metadata, size, pristine: () => createReadStream(path) }], { serviceVersion: 'measure' }), createWriteStream(archive))
  })
  const restored = join(dir, 'restored')
  await mkdir(restored)
  const read = await measured(async () => {
    await readBackup(createReadStream(archive), restored, { maxBytes: 2 * size })
  })
  const archiveSize = (await stat(archive)).size
  const report = (what: string, m: Measure) =>
    `${what} ${(size / MiB).toFixed(0)} MiB: ${(m.ms / 1000).toFixed(2)} s (${(size / MiB / (m.ms / 1000)).toFixed(0)} MiB/s), peak RSS +${(m.rss / MiB).toFixed(1)} MiB, peak heap + buffers +${(m.heap / MiB).toFixed(1)} MiB`
  t.comment(report('backup', written))
  t.comment(report('restore', read))
  t.comment(`archive: ${(archiveSize / MiB).toFixed(1)} MiB (${(100 * archiveSize / size).toFixed(1)} % of the audio)`)
  t.ok(written.rss < 64 * MiB && read.rss < 64 * MiB, 'memory stays far below the file size')
})

/** PCM that does not compress much, like real audio: a sine under noise, made a MiB at a time. */
function * noisyAudio (mib: number): Generator<Buffer> {
  let seed = 1
  for (let m = 0; m < mib; m++) {
    const block = Buffer.alloc(MiB)
    for (let i = 0; i < MiB; i += 2) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      block.writeInt16LE(Math.round(8000 * Math.sin((m * MiB + i) / 40)) + (seed % 4000) - 2000, i)
    }
    yield block
  }
}

interface Measure { ms: number, rss: number, heap: number }

async function measured (work: () => Promise<void>): Promise<Measure> {
  globalThis.gc?.()
  const usage = () => { const u = process.memoryUsage(); return { rss: u.rss, heap: u.heapUsed + u.arrayBuffers } }
  const base = usage()
  const peak = { ...base }
  const sampler = setInterval(() => {
    const now = usage()
    peak.rss = Math.max(peak.rss, now.rss)
    peak.heap = Math.max(peak.heap, now.heap)
  }, 10)
  const started = performance.now()
  try {
    await work()
  } finally {
    clearInterval(sampler)
  }
  return { ms: performance.now() - started, rss: peak.rss - base.rss, heap: peak.heap - base.heap }
}
