import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { writeDemoTrack } from '../../lib/demo-track.js'

const run = promisify(execFile)

/** sox reads the file on its own terms: an independent check of our header and samples. */
async function soxInfo (file: string) {
  const ask = async (flag: string) => Number((await run('soxi', [flag, file])).stdout.trim())
  return { channels: await ask('-c'), sampleRate: await ask('-r'), bits: await ask('-b'), samples: await ask('-s') }
}

/** `sox … stat` prints to stderr; `effects` picks a channel mix or a stretch of time first. */
async function soxStat (file: string, ...effects: string[]) {
  const { stderr } = await run('sox', [file, '-n', ...effects, 'stat'])
  const stat = new Map<string, number>()
  for (const line of stderr.split('\n')) {
    const match = /^([A-Za-z ()]+):\s+(-?[\d.]+)$/.exec(line)
    if (match?.[1] !== undefined && match[2] !== undefined) stat.set(match[1].replace(/\s+/g, ' '), Number(match[2]))
  }
  const get = (name: string): number => {
    const value = stat.get(name)
    if (value === undefined) throw new Error(`sox stat printed no "${name}": ${stderr}`)
    return value
  }
  return { length: get('Length (seconds)'), max: get('Maximum amplitude'), min: get('Minimum amplitude'), rms: get('RMS amplitude') }
}

t.test('a short demo is a valid, audible, unclipped stereo WAV', async t => {
  const file = join(t.testdir(), 'demo.wav')
  const result = await writeDemoTrack(file, { seconds: 3 })
  t.same(result, {
    frames: 132300,
    format: { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate: 44100, blockAlign: 4 }
  })
  t.same(await soxInfo(file), { channels: 2, sampleRate: 44100, bits: 16, samples: 132300 })

  const stat = await soxStat(file)
  t.equal(stat.length, 3)
  t.ok(stat.rms > 0.05, `audible: RMS ${stat.rms}`)
  t.ok(stat.max < 0.99, `no clipping above: ${stat.max}`)
  t.ok(stat.min > -0.99, `no clipping below: ${stat.min}`)

  const difference = await soxStat(file, 'remix', '1v1,2v-1')
  t.ok(difference.rms > 0.01, `left and right differ: RMS of L − R ${difference.rms}`)
})

t.test('the demo fades in and out', async t => {
  const file = join(t.testdir(), 'demo.wav')
  await writeDemoTrack(file, { seconds: 4 })
  const head = await soxStat(file, 'trim', '0', '0.02')
  const tail = await soxStat(file, 'trim', '-0.02')
  const middle = await soxStat(file, 'trim', '1.5', '1')
  t.ok(head.max < 0.01, `starts from silence: ${head.max}`)
  t.ok(tail.max < 0.01, `ends in silence: ${tail.max}`)
  t.ok(middle.rms > 0.05, `full level in the middle: ${middle.rms}`)
})

t.test('the default demo is 24 s at 44.1 kHz and peaks near −3 dBFS', async t => {
  const file = join(t.testdir(), 'demo.wav')
  const result = await writeDemoTrack(file)
  t.equal(result.frames, 24 * 44100)
  t.same(await soxInfo(file), { channels: 2, sampleRate: 44100, bits: 16, samples: 24 * 44100 })
  const stat = await soxStat(file)
  const peak = Math.max(stat.max, -stat.min)
  t.ok(peak > 0.6 && peak < 0.8, `peak ${peak} is about −3 dBFS (0.708)`)
})

t.test('the sample rate is honoured', async t => {
  const file = join(t.testdir(), 'demo.wav')
  const result = await writeDemoTrack(file, { seconds: 1.5, sampleRate: 48000 })
  t.equal(result.frames, 72000)
  t.equal(result.format.sampleRate, 48000)
  t.same(await soxInfo(file), { channels: 2, sampleRate: 48000, bits: 16, samples: 72000 })
})

t.test('two runs write identical bytes', async t => {
  const dir = t.testdir()
  await writeDemoTrack(join(dir, 'a.wav'), { seconds: 2 })
  await writeDemoTrack(join(dir, 'b.wav'), { seconds: 2 })
  const [a, b] = await Promise.all([readFile(join(dir, 'a.wav')), readFile(join(dir, 'b.wav'))])
  t.equal(a.length, 44 + 2 * 44100 * 4)
  t.ok(a.equals(b), 'same bytes')
})

t.test('an existing file is replaced whole', async t => {
  const dir = t.testdir()
  const file = join(dir, 'demo.wav')
  await writeFile(file, 'not a wav file at all')
  await writeDemoTrack(file, { seconds: 1 })
  t.same(await soxInfo(file), { channels: 2, sampleRate: 44100, bits: 16, samples: 44100 })
  t.same(await readdir(dir), ['demo.wav'], 'no temporary file left behind')
})

t.test('a failed write leaves neither a half track nor a temporary file', async t => {
  const dir = t.testdir()
  // The track renders fine, then cannot be renamed onto a directory.
  const occupied = join(dir, 'occupied.wav')
  await mkdir(occupied)
  await t.rejects(writeDemoTrack(occupied, { seconds: 0.5 }))
  t.same(await readdir(dir), ['occupied.wav'], 'only the directory that was already there')
  t.same(await readdir(occupied), [])

  await t.rejects(writeDemoTrack(join(dir, 'missing', 'demo.wav'), { seconds: 0.5 }), { code: 'ENOENT' })
  t.same(await readdir(dir), ['occupied.wav'])
})

t.test('nonsense options are rejected before anything is written', async t => {
  const dir = t.testdir()
  for (const options of [{ seconds: 0 }, { seconds: -1 }, { seconds: Number.NaN }, { seconds: Infinity }, { sampleRate: 100 }, { sampleRate: 44100.5 }]) {
    await t.rejects(writeDemoTrack(join(dir, 'demo.wav'), options), RangeError, JSON.stringify(options))
  }
  t.same(await readdir(dir), [])
})
