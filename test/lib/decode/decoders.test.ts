/**
 * The decoders as a job runs them, on this thread (a worker's coverage is not
 * collected): every format's checks for truncation, corruption and variants
 * the service does not take, with the bytes cut into awkward chunks.
 */
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ByteSource } from '../../../lib/decode/byte-source.js'
import { id3v2Length } from '../../../lib/decode/detect.js'
import type { AudioFormat } from '../../../lib/decode/formats.js'
import { mpegFrameHeader } from '../../../lib/decode/mpeg-frame.js'
import { oggCrc } from '../../../lib/decode/ogg-pages.js'
import type { DecodedFormat } from '../../../lib/decode/protocol.js'
import { decodeInput } from '../../../lib/decode/run-job.js'
import { UploadError } from '../../../lib/decode/upload-error.js'
import { MAX_WAV_BYTES } from '../../../lib/decode/wav-sink.js'
import { ffmpeg, makeSignal, sox, wavOf } from './fixtures.js'

const dir = t.testdir({})
const at = (name: string) => join(dir, name)

await Promise.all([
  makeSignal(at('s44.wav'), { rate: 44100, seconds: 1 }),
  makeSignal(at('s48.wav'), { rate: 48000, seconds: 0.5 }),
  makeSignal(at('m44.wav'), { rate: 44100, seconds: 0.5, channels: 1 })
])
await Promise.all([
  sox(at('s44.wav'), at('flac.flac')),
  sox(at('s44.wav'), at('aiff.aiff')),
  ffmpeg('-i', at('s44.wav'), '-c:a', 'libmp3lame', '-b:a', '128k', at('cbr.mp3')),
  ffmpeg('-i', at('s48.wav'), '-c:a', 'libmp3lame', '-b:a', '128k', at('cbr48.mp3')),
  ffmpeg('-i', at('m44.wav'), '-c:a', 'libmp3lame', '-b:a', '64k', at('mono.mp3')),
  ffmpeg('-i', at('s48.wav'), '-c:a', 'libopus', '-page_duration', '100000', at('opus.opus')),
  ffmpeg('-i', at('s44.wav'), '-c:a', 'libvorbis', at('vorbis.ogg'))
])
/** ffmpeg's MP3s start with an ID3v2 tag, which decodeToWav drops before the decoder sees the stream. */
async function mp3 (name: string): Promise<Buffer> {
  const bytes = await readFile(at(name))
  return bytes.subarray(id3v2Length(bytes))
}

const file = {
  flac: await readFile(at('flac.flac')),
  aiff: await readFile(at('aiff.aiff')),
  mp3: await mp3('cbr.mp3'),
  mp3At48k: await mp3('cbr48.mp3'),
  mp3Mono: await mp3('mono.mp3'),
  opus: await readFile(at('opus.opus')),
  vorbis: await readFile(at('vorbis.ogg'))
}

let outputs = 0

/** Run a job's decoding here, the bytes fed in chunks of `sizes` (repeating). */
async function decodeHere (format: AudioFormat, bytes: Buffer, options: { sizes?: number[], maxFileBytes?: number } = {}) {
  const out = at(`out-${++outputs}.wav`)
  const handle = await open(out, 'w+')
  try {
    const source = new ByteSource()
    const sizes = options.sizes ?? [bytes.length]
    for (let offset = 0, i = 0; offset < bytes.length; i++) {
      const size = sizes[i % sizes.length] as number
      source.push(bytes.subarray(offset, offset + size))
      offset += size
    }
    source.end()
    const decoded = await decodeInput(format, source, handle.fd, options.maxFileBytes ?? MAX_WAV_BYTES) as DecodedFormat
    return { decoded, out }
  } finally {
    await handle.close()
  }
}

async function refusal (format: AudioFormat, bytes: Buffer, options: { maxFileBytes?: number } = {}): Promise<UploadError> {
  try {
    await decodeHere(format, bytes, options)
  } catch (err) {
    if (err instanceof UploadError) return err
    throw err
  }
  throw new Error('the decoder took it')
}

/** Offsets where MP3 frames start (after any ID3v2 tag, which these files do not have). */
function mp3Frames (bytes: Buffer): number[] {
  const starts: number[] = []
  for (let at = 0, header = mpegFrameHeader(bytes, 0); header !== undefined; header = mpegFrameHeader(bytes, at)) {
    starts.push(at)
    at += header.frameLength
  }
  return starts
}

/** [offset, length] of every Ogg page. */
function oggPages (bytes: Buffer): Array<[number, number]> {
  const pages: Array<[number, number]> = []
  for (let at = 0; at < bytes.length;) {
    const segments = bytes[at + 26] as number
    let length = 27 + segments
    for (let i = 0; i < segments; i++) length += bytes[at + 27 + i] as number
    pages.push([at, length])
    at += length
  }
  return pages
}

/** A copy of `bytes` with `edit` applied. */
function edited (bytes: Buffer, edit: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(bytes)
  edit(copy)
  return copy
}

t.test('every decoder gives the same PCM whatever the chunking', async t => {
  const cases: Array<[AudioFormat, Buffer]> = [['flac', file.flac], ['aiff', file.aiff], ['mp3', file.mp3], ['ogg-opus', file.opus], ['ogg-vorbis', file.vorbis]]
  for (const [format, bytes] of cases) {
    const whole = await decodeHere(format, bytes)
    const bits = await decodeHere(format, bytes, { sizes: [1, 3, 4, 2, 27, 100, 4095, 7] })
    t.same(bits.decoded, whole.decoded, `${format}: same format and length`)
    t.ok((await wavOf(bits.out)).data.equals((await wavOf(whole.out)).data), `${format}: same samples`)
  }
})

t.test('FLAC refusals', async t => {
  const { flac } = file
  // STREAMINFO: rate (20 bits) at byte 18, channels and bits-per-sample in 20-21, total samples in 21-25, MD5 at 26.
  const cases: Array<[string, Buffer, string, RegExp]> = [
    ['cut inside STREAMINFO', flac.subarray(0, 30), 'EA_CORRUPT_AUDIO', /ends inside its STREAMINFO/],
    ['cut in the middle', flac.subarray(0, Math.floor(flac.length / 2)), 'EA_CORRUPT_AUDIO', /truncated \(or its end damaged\): \d+ of the 44100 frames/],
    ['garbage after STREAMINFO', Buffer.concat([flac.subarray(0, 42), Buffer.alloc(5000, 0x5a)]), 'EA_CORRUPT_AUDIO', /not one frame/],
    ['no STREAMINFO first', edited(flac, b => { b[4] = 0x04 }), 'EA_CORRUPT_AUDIO', /does not start with its STREAMINFO/],
    ['more frames announced', edited(flac, b => { b.writeUInt32BE(44101, 22) }), 'EA_CORRUPT_AUDIO', /truncated \(or its end damaged\): 44100 of the 44101 frames/],
    ['fewer frames announced', edited(flac, b => { b.writeUInt32BE(44000, 22) }), 'EA_CORRUPT_AUDIO', /holds 44100 frames; its STREAMINFO announces 44000/],
    ['wrong MD5', edited(flac, b => { b[30] = (b[30] as number) ^ 1 }), 'EA_CORRUPT_AUDIO', /MD5 signature/],
    ['damaged frame', edited(flac, b => { b.fill(0x33, 20000, 20040) }), 'EA_CORRUPT_AUDIO', /corrupt|truncated|MD5/],
    ['32-bit', edited(flac, b => { b[20] = (b[20] as number) | 1; b[21] = (b[21] as number) | 0xf0 }), 'EA_UNSUPPORTED_FORMAT', /32-bit FLAC is not supported/],
    ['a frame contradicts STREAMINFO', edited(flac, b => { b[18] = 0x0b; b[19] = 0xb8; b[20] = ((b[20] as number) & 0x0f) | 0x00 }), 'EA_CORRUPT_AUDIO', /contradicts STREAMINFO/],
    ['800 kHz', edited(flac, b => { b[18] = 0xc3; b[19] = 0x50; b[20] = ((b[20] as number) & 0x0f) }), 'EA_UNPLAYABLE_AUDIO', /800000 Hz; the service plays 1000 Hz to 768000 Hz/]
  ]
  for (const [name, bytes, code, message] of cases) {
    const err = await refusal('flac', bytes)
    t.equal(err.code, code, name)
    t.match(err.message, message, name)
  }
})

t.test('an ID3v1 tag after the audio (some taggers add one to any file) is ignored', async t => {
  const tag = Buffer.alloc(128)
  tag.write('TAG', 'latin1')
  for (const [format, bytes] of [['flac', file.flac], ['ogg-opus', file.opus], ['ogg-vorbis', file.vorbis]] as const) {
    const plain = await decodeHere(format, bytes)
    const tagged = await decodeHere(format, Buffer.concat([bytes, tag]), { sizes: [1000, 3] })
    t.same(tagged.decoded, plain.decoded, format)
  }
  t.match(await refusal('flac', Buffer.concat([file.flac, Buffer.alloc(300, 0x41)])), { message: /truncated \(or its end damaged\)/ }, 'other bytes after FLAC frames spoil the last one')
})

t.test('MP3 refusals', async t => {
  const { mp3, mp3At48k, mp3Mono } = file
  const frames = mp3Frames(mp3)
  const last = frames[frames.length - 1] as number
  // The first frame holds the Xing tag; "LAME" (or "Lavc") follows its fields.
  const lame = mp3.indexOf('Lavc') >= 0 && mp3.indexOf('Lavc') < (frames[1] as number) ? mp3.indexOf('Lavc') : mp3.indexOf('LAME')
  const cases: Array<[string, Buffer, RegExp]> = [
    ['cut inside the first frame', mp3.subarray(0, 100), /ends inside its first frame/],
    ['cut inside a frame', mp3.subarray(0, last + 10), /ends inside a frame/],
    ['cut between frames', mp3.subarray(0, frames[20]), /truncated: \d+ of the 44100 samples its LAME tag announces/],
    ['cut between frames, no LAME tag', edited(mp3.subarray(0, frames[20]), b => b.write('XXXX', lame, 'latin1')), /19 of the \d+ frames its Xing tag announces/],
    ['garbage inside', edited(mp3, b => { b.fill(0x55, frames[10] as number, frames[14]) }), /corrupt: the decoder reported/],
    ['the rate changes', Buffer.concat([mp3.subarray(0, frames[5]), mp3At48k.subarray(mp3Frames(mp3At48k)[1])]), /changes from 44100 Hz stereo to 48000 Hz stereo at frame 6/],
    ['mono, then stereo', Buffer.concat([mp3Mono.subarray(0, mp3Frames(mp3Mono)[5]), mp3.subarray(frames[1])]), /changes from 44100 Hz mono to 44100 Hz stereo/]
  ]
  for (const [name, bytes, message] of cases) {
    const err = await refusal('mp3', bytes)
    t.equal(err.code, 'EA_CORRUPT_AUDIO', name)
    t.match(err.message, message, name)
  }
})

t.test('MP3: what follows the last frame (an ID3v1 tag) is left alone; a mono stream stays mono', async t => {
  const tag = Buffer.alloc(128)
  tag.write('TAG', 'latin1')
  const { decoded } = await decodeHere('mp3', Buffer.concat([file.mp3, tag]))
  t.match(decoded, { channels: 2, frames: 44100 })
  t.match((await decodeHere('mp3', file.mp3Mono)).decoded, { channels: 1, frames: 22050 })
})

t.test('Ogg refusals', async t => {
  for (const [codec, bytes] of [['ogg-opus', file.opus], ['ogg-vorbis', file.vorbis]] as const) {
    const pages = oggPages(bytes)
    const page = (i: number) => pages[i] as [number, number]
    const [third, thirdLength] = page(2)
    const cases: Array<[string, Buffer, string, RegExp]> = [
      ['cut inside a page', bytes.subarray(0, third + 40), 'EA_CORRUPT_AUDIO', /ends inside a page/],
      ['cut between pages', bytes.subarray(0, third + thirdLength), 'EA_CORRUPT_AUDIO', /no last \(end-of-stream\) page/],
      ['a damaged page', edited(bytes, b => { b[third + 100] = (b[third + 100] as number) ^ 0xff }), 'EA_CORRUPT_AUDIO', /fails its CRC check/],
      ['a page missing', Buffer.concat([bytes.subarray(0, third), bytes.subarray(third + thirdLength)]), 'EA_CORRUPT_AUDIO', /page 2 is missing/],
      ['junk between pages', Buffer.concat([bytes.subarray(0, third), Buffer.from('junk'), bytes.subarray(third)]), 'EA_CORRUPT_AUDIO', /no page starts at byte/],
      ['no first page', bytes.subarray(page(1)[0]), 'EA_CORRUPT_AUDIO', /does not start with a beginning-of-stream page/],
      ['two streams, one after the other', Buffer.concat([bytes, bytes]), 'EA_UNSUPPORTED_FORMAT', /several streams/],
      ['an unknown page version', edited(bytes, b => { b[4] = 1; b.writeUInt32LE(oggCrc(b.subarray(0, page(0)[1])), 22) }), 'EA_CORRUPT_AUDIO', /unknown version 1/],
      ['65 channels', edited(bytes, b => {
        b[28 + (codec === 'ogg-vorbis' ? 11 : 9)] = 65
        b.writeUInt32LE(oggCrc(b.subarray(0, page(0)[1])), 22)
      }), 'EA_UNPLAYABLE_AUDIO', /65 channels; the service plays 1 to 64/]
    ]
    for (const [name, broken, code, message] of cases) {
      const err = await refusal(codec, broken)
      t.equal(err.code, code, `${codec}: ${name}`)
      t.match(err.message, message, `${codec}: ${name}`)
    }
  }
})

/** An AIFF file from its chunks. */
function aiff (form: 'AIFF' | 'AIFC', ...chunks: Array<[string, Buffer]>): Buffer {
  const body = chunks.map(([id, data]) => {
    const header = Buffer.alloc(8)
    header.write(id, 'latin1')
    header.writeUInt32BE(data.length, 4)
    return Buffer.concat([header, data, Buffer.alloc(data.length % 2)])
  })
  const head = Buffer.alloc(12)
  head.write('FORM', 'latin1')
  head.writeUInt32BE(4 + body.reduce((n, b) => n + b.length, 0), 4)
  head.write(form, 8, 'latin1')
  return Buffer.concat([head, ...body])
}

/** A COMM body: 44100 Hz as an 80-bit float, then AIFF-C's compression type and name if given. */
function comm (channels: number, frames: number, bits: number, compression?: string): Buffer {
  const body = Buffer.alloc(compression === undefined ? 18 : 24)
  body.writeUInt16BE(channels, 0)
  body.writeUInt32BE(frames, 2)
  body.writeUInt16BE(bits, 6)
  Buffer.from('400eac44000000000000', 'hex').copy(body, 8)
  if (compression !== undefined) {
    body.write(compression, 18, 'latin1')
    body.writeUInt8(1, 22)
    body.write('x', 23, 'latin1')
  }
  return body
}

function ssnd (sound: Buffer, offset = 0): Buffer {
  const head = Buffer.alloc(8 + offset)
  head.writeUInt32BE(offset, 0)
  return Buffer.concat([head, sound])
}

t.test('AIFF: odd chunks are skipped, an SSND offset honoured, 12-bit samples kept in 16 bits, what follows the sound ignored', async t => {
  const sound = Buffer.from([0x12, 0x34, 0xfe, 0xdc, 0x00, 0x10, 0x80, 0x00])
  const bytes = aiff('AIFF', ['ANNO', Buffer.from('odd')], ['COMM', comm(1, 4, 12)], ['SSND', ssnd(sound, 3)], ['NAME', Buffer.from('after')])
  const { decoded, out } = await decodeHere('aiff', bytes, { sizes: [5, 1, 2] })
  t.same(decoded, { sampleRate: 44100, channels: 1, bitsPerSample: 16, encoding: 'int', frames: 4 })
  t.same([...(await wavOf(out)).data], [0x34, 0x12, 0xdc, 0xfe, 0x10, 0x00, 0x00, 0x80])
})

t.test('AIFF sample formats to WAV byte order', async t => {
  const cases: Array<[string, Buffer, number[], { bitsPerSample: number, encoding: string }]> = [
    ['8-bit signed to unsigned', aiff('AIFF', ['COMM', comm(1, 2, 8)], ['SSND', ssnd(Buffer.from([0x80, 0x7f]))]), [0x00, 0xff], { bitsPerSample: 8, encoding: 'int' }],
    ['24-bit big-endian', aiff('AIFF', ['COMM', comm(1, 1, 24)], ['SSND', ssnd(Buffer.from([0x12, 0x34, 0x56]))]), [0x56, 0x34, 0x12], { bitsPerSample: 24, encoding: 'int' }],
    ['32-bit big-endian', aiff('AIFF', ['COMM', comm(1, 1, 32)], ['SSND', ssnd(Buffer.from([1, 2, 3, 4]))]), [4, 3, 2, 1], { bitsPerSample: 32, encoding: 'int' }],
    ['sowt (little-endian) as it is', aiff('AIFC', ['COMM', comm(1, 1, 16, 'sowt')], ['SSND', ssnd(Buffer.from([1, 2]))]), [1, 2], { bitsPerSample: 16, encoding: 'int' }],
    ['fl32', aiff('AIFC', ['COMM', comm(1, 1, 32, 'fl32')], ['SSND', ssnd(Buffer.from([0x3f, 0x00, 0x00, 0x00]))]), [0, 0, 0, 0x3f], { bitsPerSample: 32, encoding: 'float' }],
    ['FL64', aiff('AIFC', ['COMM', comm(1, 1, 0, 'FL64')], ['SSND', ssnd(Buffer.from([0x3f, 0xe0, 0, 0, 0, 0, 0, 0]))]), [0, 0, 0, 0, 0, 0, 0xe0, 0x3f], { bitsPerSample: 64, encoding: 'float' }]
  ]
  for (const [name, bytes, samples, format] of cases) {
    const { decoded, out } = await decodeHere('aiff', bytes)
    t.match(decoded, format, name)
    t.same([...(await wavOf(out)).data], samples, name)
  }
})

t.test('AIFF refusals', async t => {
  const sound = Buffer.alloc(16)
  const cases: Array<[string, Buffer, string, RegExp]> = [
    ['cut inside the FORM header', aiff('AIFF').subarray(0, 8), 'EA_CORRUPT_AUDIO', /ends inside the FORM header/],
    ['cut inside a chunk header', aiff('AIFF', ['COMM', comm(2, 4, 16)]).subarray(0, 15), 'EA_CORRUPT_AUDIO', /ends inside a chunk header/],
    ['cut inside COMM', aiff('AIFF', ['COMM', comm(2, 4, 16)]).subarray(0, 30), 'EA_CORRUPT_AUDIO', /ends inside the COMM chunk/],
    ['cut inside another chunk', aiff('AIFF', ['ANNO', Buffer.alloc(100)]).subarray(0, 60), 'EA_CORRUPT_AUDIO', /ends inside the 'ANNO' chunk/],
    ['cut inside the SSND header', aiff('AIFF', ['COMM', comm(2, 4, 16)], ['SSND', ssnd(sound)]).subarray(0, 50), 'EA_CORRUPT_AUDIO', /ends inside the SSND chunk header/],
    ['cut inside the sound', aiff('AIFF', ['COMM', comm(2, 4, 16)], ['SSND', ssnd(sound)]).subarray(0, 66), 'EA_CORRUPT_AUDIO', /3 of the 4 frames/],
    ['an SSND offset past the end', aiff('AIFF', ['COMM', comm(2, 4, 16)], ['SSND', ssnd(sound, 40)]).subarray(0, 70), 'EA_CORRUPT_AUDIO', /ends inside the SSND chunk/],
    ['less sound than announced', aiff('AIFF', ['COMM', comm(2, 5, 16)], ['SSND', ssnd(sound)]), 'EA_CORRUPT_AUDIO', /holds 16 bytes of sound; the COMM chunk announces 5 frames/],
    ['the sound before COMM', aiff('AIFF', ['SSND', ssnd(sound)], ['COMM', comm(2, 4, 16)]), 'EA_CORRUPT_AUDIO', /before the COMM chunk/],
    ['no COMM', aiff('AIFF', ['ANNO', Buffer.from('hi')]), 'EA_CORRUPT_AUDIO', /no COMM chunk/],
    ['no SSND', aiff('AIFF', ['COMM', comm(2, 4, 16)]), 'EA_CORRUPT_AUDIO', /no SSND chunk/],
    ['a short COMM', aiff('AIFF', ['COMM', Buffer.alloc(10)]), 'EA_CORRUPT_AUDIO', /COMM chunk is 10 bytes/],
    ['0 channels', aiff('AIFF', ['COMM', comm(0, 4, 16)], ['SSND', ssnd(sound)]), 'EA_CORRUPT_AUDIO', /0 channels/],
    ['33-bit samples', aiff('AIFF', ['COMM', comm(1, 4, 33)], ['SSND', ssnd(sound)]), 'EA_CORRUPT_AUDIO', /33-bit samples/],
    ['0 frames', aiff('AIFF', ['COMM', comm(2, 0, 16)]), 'EA_UNPLAYABLE_AUDIO', /no audio frames/],
    ['65 channels', aiff('AIFF', ['COMM', comm(65, 1, 8)], ['SSND', ssnd(Buffer.alloc(65))]), 'EA_UNPLAYABLE_AUDIO', /65 channels; the service plays 1 to 64/],
    ['mu-law', aiff('AIFC', ['COMM', comm(1, 4, 16, 'ulaw')], ['SSND', ssnd(sound)]), 'EA_UNSUPPORTED_FORMAT', /compressed AIFF-C \('ulaw' x\) is not supported/],
    ['too long for the limit', aiff('AIFF', ['COMM', comm(2, 4, 16)], ['SSND', ssnd(sound)]), 'EA_UNPLAYABLE_AUDIO', /too long/]
  ]
  for (const [name, bytes, code, message] of cases) {
    const err = await refusal('aiff', bytes, name === 'too long for the limit' ? { maxFileBytes: 50 } : {})
    t.equal(err.code, code, name)
    t.match(err.message, message, name)
  }
})

t.test('WAV is copied as it is (the main thread checks it), within the size limit', async t => {
  const bytes = Buffer.from('RIFF and whatever follows')
  const { decoded, out } = await decodeHere('wav', bytes, { sizes: [3] })
  t.equal(decoded, undefined)
  t.same(await readFile(out), bytes)
  const err = await refusal('wav', bytes, { maxFileBytes: 10 })
  t.match(err, { code: 'EA_UNPLAYABLE_AUDIO', message: /over 10 bytes/ })
})
