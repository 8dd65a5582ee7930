import { execFile } from 'node:child_process'
import { appendFile, open, readFile, stat, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { readSample } from '../../lib/pcm.js'
import { readWavLayout, WavFormatError } from '../../lib/riff.js'
import type { WavFormat, WavLayout } from '../../lib/wav-format.js'
import { encodeChunk, fmtBody, type ExtraChunk } from '../../lib/wav-writer.js'
import {
  BROKEN_WAV_CODES, BROKEN_WAV_KINDS, testFrames, writeBrokenWav, writeTestWav, type TestWavOptions
} from '../fixtures/wav-fixtures.js'

const run = promisify(execFile)

async function layoutOf (path: string): Promise<WavLayout> {
  const file = await open(path)
  try {
    return await readWavLayout(file)
  } finally {
    await file.close()
  }
}

async function refusalOf (path: string): Promise<unknown> {
  try {
    await layoutOf(path)
  } catch (err) {
    return err
  }
  return undefined
}

/** What sox, an independent reader, sees in the file. */
async function soxi (path: string) {
  const field = async (flag: string) => (await run('soxi', [flag, path])).stdout.trim()
  return {
    channels: Number(await field('-c')),
    sampleRate: Number(await field('-r')),
    frames: Number(await field('-s')),
    bitsPerSample: Number(await field('-b'))
  }
}

/** Every sample as sox decodes it, normalised to [-1, 1] as readSample does. */
async function soxSamples (path: string, dir: string): Promise<number[]> {
  const raw = join(dir, 'samples.f64')
  await run('sox', [path, '-t', 'raw', '-e', 'floating-point', '-b', '64', '-L', raw])
  const bytes = await readFile(raw)
  return Array.from({ length: bytes.length / 8 }, (_, i) => bytes.readDoubleLE(i * 8))
}

/** Every sample between dataOffset and dataOffset + dataSize, as this project decodes it. */
async function samplesOnDisk (path: string, layout: WavLayout): Promise<number[]> {
  const frames = await framesOnDisk(path, layout)
  const width = layout.format.bitsPerSample / 8
  return Array.from({ length: frames.length / width }, (_, i) => readSample(frames, i * width, layout.format))
}

function assertSameSamples (t: Test, actual: number[], expected: number[]) {
  t.equal(actual.length, expected.length, 'as many samples as sox decodes')
  // sox decodes through 32-bit integers, so floats agree only to about 2^-31.
  const worst = actual.reduce((w, v, i) => Math.max(w, Math.abs(v - (expected[i] ?? NaN))), 0)
  t.ok(worst < 1e-6, `samples agree with sox (worst difference ${worst})`)
}

async function framesOnDisk (path: string, layout: WavLayout): Promise<Buffer> {
  return (await readFile(path)).subarray(layout.dataOffset, layout.dataOffset + layout.dataSize)
}

function riffWave (...chunks: ExtraChunk[]): Buffer {
  const body = Buffer.concat(chunks.map(encodeChunk))
  const head = Buffer.alloc(12)
  head.write('RIFF', 0, 'latin1')
  head.writeUInt32LE(4 + body.length, 4)
  head.write('WAVE', 8, 'latin1')
  return Buffer.concat([head, body])
}

const STEREO_16: WavFormat = { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate: 8000, blockAlign: 4 }
const list: ExtraChunk = { id: 'LIST', body: Buffer.from('INFOINAM\x08\x00\x00\x00a title\x00', 'latin1') }
const bext: ExtraChunk = { id: 'bext', body: Buffer.alloc(602, 0x20) }
const oddJunk: ExtraChunk = { id: 'junk', body: Buffer.from('abcde') }

/** A fmt chunk built from a format, then altered in place. */
function fmtChunk (format: WavFormat, alter: (body: Buffer) => Buffer | undefined = () => undefined): ExtraChunk {
  const body = fmtBody(format)
  return { id: 'fmt ', body: alter(body) ?? body }
}

/** A 40-byte extensible fmt body whose GUID is `guid`. */
function extensibleFmt (format: WavFormat, guid: Buffer): ExtraChunk {
  return fmtChunk(format, (base) => {
    base.writeUInt16LE(0xfffe, 0)
    const ext = Buffer.alloc(24)
    ext.writeUInt16LE(22, 0)
    ext.writeUInt16LE(format.bitsPerSample, 2)
    guid.copy(ext, 8)
    return Buffer.concat([base, ext])
  })
}

const GUID_SUFFIX = '000000001000800000aa00389b71'

interface SupportedCase { name: string, options: TestWavOptions, dataOffset: number }

const supported: SupportedCase[] = []
for (const bitsPerSample of [8, 16, 24, 32]) {
  for (const channels of [1, 2, 6]) {
    // 101 frames: an odd data size (and its pad byte) whenever a frame is an odd number of bytes.
    supported.push({ name: `int ${bitsPerSample}-bit ${channels} ch`, options: { bitsPerSample, channels, frames: 101 }, dataOffset: 44 })
  }
}
for (const bitsPerSample of [32, 64]) {
  for (const channels of [1, 2, 6]) {
    supported.push({ name: `float ${bitsPerSample}-bit ${channels} ch`, options: { encoding: 'float', bitsPerSample, channels, frames: 101 }, dataOffset: 44 })
  }
}
for (const bitsPerSample of [16, 24, 32]) {
  supported.push({ name: `extensible int ${bitsPerSample}-bit 6 ch`, options: { extensible: true, bitsPerSample, channels: 6, frames: 50 }, dataOffset: 68 })
}
for (const bitsPerSample of [32, 64]) {
  supported.push({ name: `extensible float ${bitsPerSample}-bit`, options: { extensible: true, encoding: 'float', bitsPerSample }, dataOffset: 68 })
}
supported.push(
  { name: 'fmt chunk of 18 bytes', options: { fmtSize: 18 }, dataOffset: 46 },
  { name: 'non-extensible fmt chunk of 40 bytes', options: { fmtSize: 40, extensible: false }, dataOffset: 68 },
  { name: 'LIST before data', options: { chunksBeforeData: [list] }, dataOffset: 44 + 8 + list.body.length },
  { name: 'bext and LIST after data', options: { chunksAfterData: [bext, list] }, dataOffset: 44 },
  { name: 'odd-sized chunk and its pad byte before data', options: { chunksBeforeData: [oddJunk, list] }, dataOffset: 44 + 14 + 8 + list.body.length },
  { name: 'data size 0xFFFFFFFF from a streaming encoder', options: { declaredDataSize: 0xffffffff }, dataOffset: 44 },
  { name: 'data size larger than the file', options: { frames: 1000, declaredDataSize: 4000 + 1001 }, dataOffset: 44 },
  { name: 'zero frames', options: { frames: 0 }, dataOffset: 44 },
  { name: 'zero frames, extensible, with chunks around', options: { frames: 0, extensible: true, chunksBeforeData: [list], chunksAfterData: [bext] }, dataOffset: 68 + 8 + list.body.length }
)

t.test('reads the layout of every supported WAV', async (t) => {
  for (const { name, options, dataOffset } of supported) {
    t.test(name, async (t) => {
      const wav = await writeTestWav(join(t.testdir(), 'track.wav'), options)
      const layout = await layoutOf(wav.path)
      t.same(layout.format, wav.format)
      t.equal(layout.dataOffset, dataOffset)
      t.equal(layout.frames, wav.frames)
      t.equal(layout.dataSize, wav.frames * wav.format.blockAlign)
      t.equal(layout.fileSize, (await stat(wav.path)).size)
      t.same(await framesOnDisk(wav.path, layout), testFrames(wav.format, 0, wav.frames),
        'dataOffset and dataSize frame exactly the written signal')
    })
  }
})

t.test('agrees with sox on the files it generates', async (t) => {
  const cases: TestWavOptions[] = [
    { bitsPerSample: 8, channels: 1, frames: 101 },
    { bitsPerSample: 24, channels: 6, extensible: true },
    { encoding: 'float', bitsPerSample: 64, channels: 2, fmtSize: 18 },
    { bitsPerSample: 32, channels: 2, chunksBeforeData: [oddJunk, list], chunksAfterData: [bext] }
  ]
  for (const options of cases) {
    t.test(JSON.stringify(options, (k, v: unknown) => (k === 'body' ? undefined : v)), async (t) => {
      const dir = t.testdir()
      const wav = await writeTestWav(join(dir, 'track.wav'), options)
      const layout = await layoutOf(wav.path)
      const seen = await soxi(wav.path)
      t.same(seen, {
        channels: layout.format.channels,
        sampleRate: layout.format.sampleRate,
        frames: layout.frames,
        bitsPerSample: layout.format.bitsPerSample
      })
      assertSameSamples(t, await samplesOnDisk(wav.path, layout), await soxSamples(wav.path, dir))
    })
  }
})

t.test('reads the files sox writes', async (t) => {
  const cases = [
    ['-e', 'unsigned-integer', '-b', '8', '-c', '1', '-r', '11025'],
    ['-e', 'signed-integer', '-b', '16', '-c', '2', '-r', '44100'],
    ['-e', 'signed-integer', '-b', '24', '-c', '6', '-r', '48000'],
    ['-e', 'signed-integer', '-b', '32', '-c', '3', '-r', '22050'],
    ['-e', 'floating-point', '-b', '32', '-c', '2', '-r', '96000'],
    ['-e', 'floating-point', '-b', '64', '-c', '1', '-r', '8000']
  ]
  for (const args of cases) {
    t.test(args.join(' '), async (t) => {
      const dir = t.testdir()
      const path = join(dir, 'sox.wav')
      await run('sox', ['-n', ...args, path, 'synth', '0.05', 'sine', '440'])
      const layout = await layoutOf(path)
      const seen = await soxi(path)
      t.equal(layout.format.channels, seen.channels)
      t.equal(layout.format.sampleRate, seen.sampleRate)
      t.equal(layout.format.bitsPerSample, seen.bitsPerSample)
      t.equal(layout.format.encoding, args[1] === 'floating-point' ? 'float' : 'int')
      t.equal(layout.frames, seen.frames)
      assertSameSamples(t, await samplesOnDisk(path, layout), await soxSamples(path, dir))
    })
  }
})

t.test('clips an overlong data chunk down to whole frames', async (t) => {
  const wav = await writeTestWav(join(t.testdir(), 'stream.wav'), { frames: 300, declaredDataSize: 0xffffffff })
  await appendFile(wav.path, Buffer.from([1, 2, 3]))
  const layout = await layoutOf(wav.path)
  t.equal(layout.frames, 300)
  t.equal(layout.dataSize, 1200)
  t.equal(layout.fileSize, wav.fileSize + 3)
})

t.test('ignores a partial frame at the end of a data chunk', async (t) => {
  const path = join(t.testdir(), 'partial.wav')
  await writeFile(path, riffWave(fmtChunk(STEREO_16), { id: 'data', body: Buffer.alloc(402, 1) }))
  const layout = await layoutOf(path)
  t.equal(layout.frames, 100)
  t.equal(layout.dataSize, 400)
})

t.test('finds fmt after a data chunk of known size', async (t) => {
  const path = join(t.testdir(), 'data-first.wav')
  await writeFile(path, riffWave({ id: 'data', body: Buffer.alloc(400, 1) }, list, fmtChunk(STEREO_16)))
  const layout = await layoutOf(path)
  t.same(layout.format, STEREO_16)
  t.equal(layout.dataOffset, 20)
  t.equal(layout.frames, 100)
})

t.test('does not care about a cut-off chunk after the data', async (t) => {
  const path = join(t.testdir(), 'cut-tail.wav')
  const whole = riffWave(fmtChunk(STEREO_16), { id: 'data', body: Buffer.alloc(400, 1) }, bext)
  await writeFile(path, whole.subarray(0, whole.length - 100))
  t.equal((await layoutOf(path)).frames, 100)
})

t.test('reads an odd-sized data chunk that lacks its final pad byte', async (t) => {
  const wav = await writeTestWav(join(t.testdir(), 'odd.wav'), { bitsPerSample: 8, channels: 1, frames: 101 })
  const bytes = await readFile(wav.path)
  await writeFile(wav.path, bytes.subarray(0, bytes.length - 1))
  t.equal((await layoutOf(wav.path)).frames, 101)
})

t.test('refuses every broken kind with its own code', async (t) => {
  for (const kind of BROKEN_WAV_KINDS) {
    t.test(kind, async (t) => {
      const dir = t.testdir()
      const path = join(dir, `${kind}.wav`)
      await writeBrokenWav(path, kind)
      const err = await refusalOf(path)
      t.ok(err instanceof WavFormatError, 'a WavFormatError, nothing else')
      t.match(err, { name: 'WavFormatError', code: BROKEN_WAV_CODES[kind] })
      const message = (err as Error).message
      t.ok(message.length > 10, 'says why')
      t.notOk(message.includes(dir), 'does not name the file')
    })
  }
})

const guid = (tag: number) => Buffer.from(tag.toString(16).padStart(2, '0') + '00' + GUID_SUFFIX, 'hex')

interface RefusalCase { name: string, bytes: Buffer, code: string, message?: RegExp }

const data = (bytes: number): ExtraChunk => ({ id: 'data', body: Buffer.alloc(bytes, 1) })
const withTag = (tag: number) => fmtChunk(STEREO_16, (b) => { b.writeUInt16LE(tag, 0); return undefined })
const riffHead = (magic: string) => Buffer.concat([Buffer.from(magic, 'latin1'), riffWave(fmtChunk(STEREO_16), data(400)).subarray(4)])

const refusals: RefusalCase[] = [
  { name: 'names mu-law', bytes: riffWave(withTag(0x0007), data(400)), code: 'WAV_COMPRESSED', message: /^compressed WAV \(mu-law, format 0x0007\) is not supported; convert it to PCM$/ },
  { name: 'names A-law', bytes: riffWave(withTag(0x0006), data(400)), code: 'WAV_COMPRESSED', message: /A-law, format 0x0006/ },
  { name: 'names MS ADPCM', bytes: riffWave(withTag(0x0002), data(400)), code: 'WAV_COMPRESSED', message: /MS ADPCM, format 0x0002/ },
  { name: 'names IMA ADPCM', bytes: riffWave(withTag(0x0011), data(400)), code: 'WAV_COMPRESSED', message: /IMA ADPCM, format 0x0011/ },
  { name: 'names MPEG', bytes: riffWave(withTag(0x0050), data(400)), code: 'WAV_COMPRESSED', message: /MPEG, format 0x0050/ },
  { name: 'names MP3', bytes: riffWave(withTag(0x0055), data(400)), code: 'WAV_COMPRESSED', message: /MPEG layer 3, format 0x0055/ },
  { name: 'shows an unknown tag in hex', bytes: riffWave(withTag(0x1a2b), data(400)), code: 'WAV_COMPRESSED', message: /format 0x1A2B\)/ },
  { name: 'extensible mu-law', bytes: riffWave(extensibleFmt({ ...STEREO_16, bitsPerSample: 8, blockAlign: 2 }, guid(7)), data(400)), code: 'WAV_COMPRESSED', message: /mu-law/ },
  { name: 'extensible with a foreign GUID', bytes: riffWave(extensibleFmt(STEREO_16, Buffer.alloc(16, 0x42)), data(400)), code: 'WAV_COMPRESSED', message: /GUID 4242/ },
  { name: 'extensible fmt of 18 bytes', bytes: riffWave(fmtChunk(STEREO_16, (b) => { b.writeUInt16LE(0xfffe, 0); return Buffer.concat([b, Buffer.alloc(2)]) }), data(400)), code: 'WAV_BAD_FMT' },
  { name: 'extensible float 16-bit', bytes: riffWave(extensibleFmt({ ...STEREO_16, encoding: 'float' }, guid(3)), data(400)), code: 'WAV_UNSUPPORTED_BITS', message: /16-bit float/ },
  { name: 'float 16-bit', bytes: riffWave(fmtChunk({ ...STEREO_16, encoding: 'float' }), data(400)), code: 'WAV_UNSUPPORTED_BITS', message: /16-bit float/ },
  { name: 'int 20-bit', bytes: riffWave(fmtChunk({ ...STEREO_16, bitsPerSample: 20, blockAlign: 6 }), data(600)), code: 'WAV_UNSUPPORTED_BITS', message: /20-bit integer PCM/ },
  { name: 'fmt chunk of 14 bytes', bytes: riffWave(fmtChunk(STEREO_16, (b) => b.subarray(0, 14)), data(400)), code: 'WAV_BAD_FMT', message: /14 bytes/ },
  { name: 'sample rate 0', bytes: riffWave(fmtChunk({ ...STEREO_16, sampleRate: 0 }), data(400)), code: 'WAV_BAD_FMT', message: /0 Hz/ },
  { name: 'block align of 24-bit stereo padded to 8', bytes: riffWave(fmtChunk({ ...STEREO_16, bitsPerSample: 24, blockAlign: 8 }), data(800)), code: 'WAV_BAD_BLOCK_ALIGN', message: /need 6/ },
  { name: 'streamed data before any fmt', bytes: Buffer.concat([riffWave(list), Buffer.from('data\xff\xff\xff\xff', 'latin1'), Buffer.alloc(400, 1)]), code: 'WAV_NO_FMT' },
  { name: 'a chunk before data that overruns the file', bytes: riffWave(fmtChunk(STEREO_16), bext, data(400)).subarray(0, 300), code: 'WAV_TRUNCATED', message: /'bext'/ },
  { name: 'only a RIFF header', bytes: riffWave(), code: 'WAV_NO_FMT' },
  { name: 'RF64', bytes: riffHead('RF64'), code: 'WAV_NOT_RIFF', message: /RF64/ },
  { name: 'RIFF header cut at 8 bytes', bytes: riffHead('RIFF').subarray(0, 8), code: 'WAV_TRUNCATED' },
  { name: 'RIFF header cut at 2 bytes', bytes: Buffer.from('RI'), code: 'WAV_TRUNCATED' },
  { name: 'a 2-byte text file', bytes: Buffer.from('hi'), code: 'WAV_NOT_RIFF' }
]

t.test('refuses what it cannot play, and says why', async (t) => {
  for (const { name, bytes, code, message } of refusals) {
    t.test(name, async (t) => {
      const path = join(t.testdir(), 'refused.wav')
      await writeFile(path, bytes)
      const err = await refusalOf(path)
      t.ok(err instanceof WavFormatError, 'a WavFormatError, nothing else')
      t.match(err, { code, message: message ?? /./ })
    })
  }
})

t.test('a file that shrinks while being read is truncated, not a crash', async (t) => {
  const wav = await writeTestWav(join(t.testdir(), 'shrinking.wav'))
  const real = await open(wav.path, 'r+')
  t.teardown(() => real.close())
  const fileSize = wav.fileSize
  await real.truncate(20)
  // A stat() taken before the truncation, as a concurrent writer would leave it.
  const stale = {
    stat: async () => ({ size: fileSize }),
    read: real.read.bind(real)
  } as unknown as FileHandle
  const err = await readWavLayout(stale).catch((e: unknown) => e)
  t.ok(err instanceof WavFormatError)
  t.match(err, { code: 'WAV_TRUNCATED' })
})
