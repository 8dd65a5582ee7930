import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { decodeToWav } from '../../../lib/decode/index.js'
import { decodeFile, dribble, ffmpeg, makeSignal, sox, wavOf } from './fixtures.js'

const run = promisify(execFile)

/** What sox, an independent reader, sees in a stored file. */
async function soxi (path: string) {
  const { stdout } = await run('soxi', [path])
  const field = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1])
  return {
    channels: field(/Channels\s*: (\d+)/),
    sampleRate: field(/Sample Rate\s*: (\d+)/),
    frames: field(/= (\d+) samples/),
    bitsPerSample: field(/Sample Encoding: (\d+)-bit/)
  }
}

const dir = t.testdir({})
const at = (name: string) => join(dir, name)

// Sources: the WAV every other file is made from, and the samples each must give back.
await Promise.all([
  makeSignal(at('s16.wav'), { rate: 44100, seconds: 1.5, noise: true }),
  makeSignal(at('s24.wav'), { rate: 48000, seconds: 1.2, noise: true, encoding: ['-b', '24'] }),
  makeSignal(at('f32.wav'), { rate: 44100, seconds: 1, noise: true, encoding: ['-e', 'floating-point', '-b', '32'] }),
  makeSignal(at('f64.wav'), { rate: 22050, seconds: 0.5, noise: true, encoding: ['-e', 'floating-point', '-b', '64'] }),
  makeSignal(at('u8.wav'), { rate: 16000, seconds: 1, noise: true, encoding: ['-e', 'unsigned-integer', '-b', '8'] }),
  makeSignal(at('mono.wav'), { rate: 32000, seconds: 1, channels: 1, noise: true })
])

interface Case {
  name: string
  /** The WAV whose samples the decoded file must hold, byte for byte. */
  source: string
  make: (source: string, out: string) => Promise<void>
  format: string
}

/** A WAV as ffmpeg writes it to a pipe: RIFF and data sizes left at 0xFFFFFFFF. */
async function pipedWav (source: string, out: string): Promise<void> {
  const bytes = await readFile(source)
  bytes.writeUInt32LE(0xffffffff, 4)
  bytes.writeUInt32LE(0xffffffff, bytes.indexOf('data') + 4)
  await writeFile(out, bytes)
}

// sox where it can (it starts in a tenth of ffmpeg's time); ffmpeg for sowt and a second FLAC encoder.
const cases: Case[] = [
  { name: 'wav-16', source: 's16.wav', format: 'wav', make: async (s, o) => await sox(s, '-t', 'wav', o) },
  { name: 'wav-24', source: 's24.wav', format: 'wav', make: async (s, o) => await sox(s, '-t', 'wav', o) },
  { name: 'wav-f32', source: 'f32.wav', format: 'wav', make: async (s, o) => await sox(s, '-t', 'wav', o) },
  { name: 'wav-u8', source: 'u8.wav', format: 'wav', make: async (s, o) => await sox(s, '-t', 'wav', o) },
  { name: 'wav-piped', source: 's16.wav', format: 'wav', make: pipedWav },
  { name: 'aiff-16', source: 's16.wav', format: 'aiff', make: async (s, o) => await sox(s, '-t', 'aiff', o) },
  { name: 'aiff-24', source: 's24.wav', format: 'aiff', make: async (s, o) => await sox(s, '-t', 'aiff', o) },
  { name: 'aiff-8', source: 'u8.wav', format: 'aiff', make: async (s, o) => await sox(s, '-t', 'aiff', '-e', 'signed-integer', o) },
  { name: 'aifc-none', source: 's16.wav', format: 'aiff', make: async (s, o) => await sox(s, '-t', 'aifc', o) },
  { name: 'aifc-sowt', source: 's16.wav', format: 'aiff', make: async (s, o) => await ffmpeg('-i', s, '-c:a', 'pcm_s16le', '-f', 'aiff', o) },
  { name: 'aifc-fl32', source: 'f32.wav', format: 'aiff', make: async (s, o) => await sox(s, '-t', 'aifc', o) },
  { name: 'aifc-fl64', source: 'f64.wav', format: 'aiff', make: async (s, o) => await sox(s, '-t', 'aifc', o) },
  { name: 'flac-16-ffmpeg', source: 's16.wav', format: 'flac', make: async (s, o) => await ffmpeg('-i', s, '-c:a', 'flac', '-f', 'flac', o) },
  { name: 'flac-16', source: 's16.wav', format: 'flac', make: async (s, o) => await sox(s, '-t', 'flac', o) },
  { name: 'flac-24', source: 's24.wav', format: 'flac', make: async (s, o) => await sox(s, '-t', 'flac', o) },
  { name: 'flac-8', source: 'u8.wav', format: 'flac', make: async (s, o) => await sox(s, '-t', 'flac', o) },
  { name: 'flac-mono', source: 'mono.wav', format: 'flac', make: async (s, o) => await sox(s, '-t', 'flac', o) }
]

await Promise.all(cases.map(async c => await c.make(at(c.source), at(c.name))))

t.test('lossless formats are stored sample for sample, at the same rate, channels and depth', async t => {
  for (const c of cases) {
    // The sources have no extension: the format is told from the bytes.
    const out = at(`${c.name}.out.wav`)
    const audio = await decodeFile(at(c.name), out)
    const expected = await wavOf(at(c.source))
    const stored = await wavOf(out)
    t.equal(audio.format, c.format, `${c.name}: detected as ${c.format}`)
    t.same({ ...stored.layout.format }, { ...expected.layout.format }, `${c.name}: same format`)
    t.equal(audio.frames, expected.layout.frames, `${c.name}: same number of frames`)
    t.match(audio, { sampleRate: expected.layout.format.sampleRate, channels: expected.layout.format.channels, bitsPerSample: expected.layout.format.bitsPerSample, encoding: expected.layout.format.encoding })
    t.ok(stored.data.equals(expected.data), `${c.name}: every sample equal`)
    // An independent reader agrees on the header (sizes patched where a pipe left them unknown).
    t.same(await soxi(out), {
      channels: audio.channels, sampleRate: audio.sampleRate, frames: audio.frames, bitsPerSample: audio.bitsPerSample
    }, `${c.name}: sox reads the stored file alike`)
  }
})

t.test('8-bit FLAC becomes unsigned 8-bit WAV', async t => {
  const audio = await decodeFile(at('flac-8'), at('flac-8.again.wav'))
  t.match(audio, { bitsPerSample: 8, encoding: 'int' })
})

t.test('bytes arriving a few at a time decode the same', async t => {
  for (const name of ['flac-24', 'flac-16-ffmpeg', 'aifc-sowt', 'aiff-24', 'wav-piped']) {
    const out = at(`${name}.dribbled.wav`)
    await decodeToWav(dribble(await readFile(at(name))), out, { maxBytes: 1 << 30 })
    const whole = await wavOf(at(`${name}.out.wav`))
    t.ok((await wavOf(out)).data.equals(whole.data), name)
  }
})
