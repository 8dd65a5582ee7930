/** The pure pieces of lib/decode: detection, frame headers, chunk plumbing, PCM conversion, the WAV sink, errors. */
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { readExtended } from '../../../lib/decode/aiff.js'
import { ByteSource } from '../../../lib/decode/byte-source.js'
import { detectFormat, id3v2Length, PROBE_BYTES, unsupportedReason } from '../../../lib/decode/detect.js'
import { mpegFrameHeader, xingInfo } from '../../../lib/decode/mpeg-frame.js'
import { oggCrc } from '../../../lib/decode/ogg-pages.js'
import { flacFloatsToPcm, floatToInt16 } from '../../../lib/decode/pcm-convert.js'
import { deserialiseError, serialiseError } from '../../../lib/decode/protocol.js'
import { UploadError } from '../../../lib/decode/upload-error.js'
import { UploadHead } from '../../../lib/decode/upload-head.js'
import { MAX_WAV_BYTES, WavSink } from '../../../lib/decode/wav-sink.js'
import { readWavLayout } from '../../../lib/riff.js'
import type { WavFormat } from '../../../lib/wav-format.js'

const latin1 = (text: string) => Buffer.from(text, 'latin1')

/** An MPEG-1 Layer III header: 128 kbps, 44.1 kHz, stereo unless told. */
function mp3Header (options: { byte1?: number, byte2?: number, byte3?: number } = {}): Buffer {
  return Buffer.from([0xff, options.byte1 ?? 0xfb, options.byte2 ?? 0x90, options.byte3 ?? 0x44])
}

/** Two MPEG-1 Layer III frames (417 bytes each at 128 kbps, 44.1 kHz). */
function twoFrames (): Buffer {
  const frame = Buffer.alloc(417)
  mp3Header().copy(frame)
  return Buffer.concat([frame, frame])
}

function id3 (bodyLength: number, footer = false): Buffer {
  const tag = Buffer.alloc(10 + bodyLength + (footer ? 10 : 0))
  tag.write('ID3', 'latin1')
  tag[3] = 4
  tag[5] = footer ? 0x10 : 0
  for (let i = 0, n = bodyLength; i < 4; i++, n = Math.floor(n / 128)) tag[9 - i] = n % 128
  return tag
}

function oggPage (packet: string): Buffer {
  const page = Buffer.alloc(28 + packet.length)
  page.write('OggS', 'latin1')
  page[26] = 1
  page[27] = packet.length
  page.write(packet, 28, 'latin1')
  return page
}

t.test('detectFormat tells the format from the bytes', async t => {
  const cases: Array<[string, Buffer, string | undefined]> = [
    ['RIFF WAVE', latin1('RIFF\0\0\0\0WAVEfmt '), 'wav'],
    ['RIFX WAVE (refused later, by name)', latin1('RIFX\0\0\0\0WAVE'), 'wav'],
    ['RF64 WAVE', latin1('RF64\0\0\0\0WAVE'), 'wav'],
    ['RIFF AVI', latin1('RIFF\0\0\0\0AVI '), undefined],
    ['AIFF', latin1('FORM\0\0\0\0AIFF'), 'aiff'],
    ['AIFF-C', latin1('FORM\0\0\0\0AIFC'), 'aiff'],
    ['FORM of something else', latin1('FORM\0\0\0\0ILBM'), undefined],
    ['FLAC', latin1('fLaC\0\0\0\x22'), 'flac'],
    ['Ogg Vorbis', oggPage('\x01vorbis'), 'ogg-vorbis'],
    ['Ogg Opus', oggPage('OpusHead'), 'ogg-opus'],
    ['Ogg FLAC', oggPage('\x7FFLAC'), undefined],
    ['a short Ogg header', latin1('OggS\0\x02'), undefined],
    ['two MP3 frames', twoFrames(), 'mp3'],
    ['an MP3 frame, then something else', Buffer.concat([twoFrames().subarray(0, 417), Buffer.alloc(417)]), undefined],
    ['an MP3 frame, then a frame of another rate', Buffer.concat([twoFrames().subarray(0, 417), mp3Header({ byte2: 0x94 })]), undefined],
    ['a single MP3 frame header (a very short file)', mp3Header(), 'mp3'],
    ['an ID3v2 tag, then MP3 frames', Buffer.concat([id3(100), twoFrames()]), 'mp3'],
    ['an ID3v2 tag, then FLAC (a mis-tagged file)', Buffer.concat([id3(20, true), latin1('fLaC')]), 'flac'],
    ['the start of a long ID3v2 tag', id3(100_000).subarray(0, PROBE_BYTES), 'mp3'],
    ['the first bytes of an ID3v2 header', latin1('ID3\x04'), undefined],
    ['text', latin1('Hello, this is not audio'), undefined],
    ['PNG', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), undefined],
    ['nothing', Buffer.alloc(0), undefined]
  ]
  for (const [name, head, format] of cases) t.equal(detectFormat(head), format, name)
})

t.test('ID3v2 tag lengths', async t => {
  t.equal(id3v2Length(id3(300)), 310)
  t.equal(id3v2Length(id3(300, true)), 320, 'with a footer')
  t.equal(id3v2Length(latin1('ID')), undefined, 'too short to tell')
  t.equal(id3v2Length(latin1('ID3\x04\0\0')), undefined)
  t.equal(id3v2Length(latin1('IDEA')), 0)
  t.equal(id3v2Length(latin1('ID3\x09\0\0\0\0\0\0')), 0, 'no such version')
  t.equal(id3v2Length(latin1('ID3\x04\0\0\0\0\x80\0')), 0, 'not syncsafe')
})

t.test('MPEG audio frame headers: Layer III only, with every version\'s tables', async t => {
  t.same(mpegFrameHeader(mp3Header(), 0), { version: 1, sampleRate: 44100, channels: 2, frameLength: 417, samplesPerFrame: 1152, sideInfoLength: 32, hasCrc: false })
  t.match(mpegFrameHeader(mp3Header({ byte2: 0x92, byte3: 0xc4 }), 0), { frameLength: 418, channels: 1, sideInfoLength: 17 }, 'padded, mono')
  t.match(mpegFrameHeader(mp3Header({ byte1: 0xf3, byte2: 0x84 }), 0), { version: 2, sampleRate: 24000, samplesPerFrame: 576, frameLength: 192, sideInfoLength: 17 }, 'MPEG-2, 64 kbps')
  t.match(mpegFrameHeader(mp3Header({ byte1: 0xe2, byte2: 0x18, byte3: 0xc0 }), 0), { version: 2.5, sampleRate: 8000, channels: 1, hasCrc: true, sideInfoLength: 9 }, 'MPEG-2.5 with CRC')
  const refused: Array<[string, Buffer]> = [
    ['no sync', Buffer.from([0xff, 0x1b, 0x90, 0x44])],
    ['reserved version', mp3Header({ byte1: 0xeb })],
    ['Layer II', mp3Header({ byte1: 0xfd })],
    ['free format', mp3Header({ byte2: 0x00 })],
    ['bad bitrate', mp3Header({ byte2: 0xf0 })],
    ['reserved rate', mp3Header({ byte2: 0x9c })],
    ['reserved emphasis', mp3Header({ byte3: 0x46 })],
    ['too short', mp3Header().subarray(0, 3)]
  ]
  for (const [name, bytes] of refused) t.equal(mpegFrameHeader(bytes, 0), undefined, name)
})

t.test('Xing and LAME tags', async t => {
  const frame = twoFrames().subarray(0, 417)
  const header = mpegFrameHeader(frame, 0)
  if (header === undefined) throw new Error('no header')
  t.equal(xingInfo(frame, header), undefined, 'audio, not a tag')
  const at = 4 + 32
  const tagged = Buffer.from(frame)
  tagged.write('Info', at, 'latin1')
  tagged.writeUInt32BE(0xf, at + 4)
  tagged.writeUInt32BE(1234, at + 8)
  tagged.write('LAME3.100', at + 8 + 4 + 4 + 100 + 4, 'latin1')
  tagged.writeUIntBE((576 << 12) | 1000, at + 8 + 4 + 4 + 100 + 4 + 21, 3)
  t.same(xingInfo(tagged, header), { frames: 1234, delay: 576, padding: 1000 })
  const bare = Buffer.from(frame)
  bare.write('Xing', at, 'latin1')
  bare.writeUInt32BE(0x0, at + 4)
  t.same(xingInfo(bare, header), {}, 'a tag without fields')
  t.equal(xingInfo(frame.subarray(0, 40), header), undefined, 'a frame too short to hold one')
})

t.test('UploadHead drops leading ID3v2 tags as they stream past, then keeps PROBE_BYTES', async t => {
  const frames = Buffer.concat(Array.from({ length: 12 }, () => twoFrames()))
  const upload = Buffer.concat([id3(5000), id3(3, true), frames])
  for (const size of [1, 7, 4096, upload.length]) {
    const head = new UploadHead()
    let found: Buffer | undefined
    let offset = 0
    for (; found === undefined && offset < upload.length; offset += size) found = head.push(upload.subarray(offset, offset + size))
    t.ok(found !== undefined, `chunks of ${size}: found`)
    t.ok(found !== undefined && found.length >= PROBE_BYTES && frames.subarray(0, found.length).equals(found), `chunks of ${size}: the frames, from the first`)
  }
  const short = new UploadHead()
  t.equal(short.push(latin1('ID3')), undefined)
  t.same(short.take(), latin1('ID3'), 'a short upload is what it is')
  const tagOnly = new UploadHead()
  t.equal(tagOnly.push(id3(10)), undefined)
  t.same(tagOnly.take(), Buffer.alloc(0), 'a tag and nothing else')
})

t.test('unsupportedReason names what it can', async t => {
  t.match(unsupportedReason(Buffer.alloc(0)), /empty/)
  t.match(unsupportedReason(oggPage('\x7FFLAC')), /Ogg file, but not Vorbis or Opus/)
  t.match(unsupportedReason(latin1('\0\0\0\x20ftypM4A ')), /MP4 \/ M4A/)
  t.match(unsupportedReason(latin1('RIFF\0\0\0\0AVI ')), /a RIFF file of type 'AVI '/)
  t.match(unsupportedReason(latin1('%PDF-1.7')), /^not audio in a supported format$/)
})

t.test('UploadError carries the status for its code', async t => {
  t.match(new UploadError('EA_UPLOAD_TOO_LARGE', 'x'), { statusCode: 413, name: 'UploadError' })
  t.match(new UploadError('EA_UNSUPPORTED_FORMAT', 'x'), { statusCode: 415 })
  t.match(new UploadError('EA_CORRUPT_AUDIO', 'x'), { statusCode: 422 })
  t.match(new UploadError('EA_UNPLAYABLE_AUDIO', 'x'), { statusCode: 422 })
})

t.test('errors cross from the worker with what matters', async t => {
  const upload = deserialiseError(serialiseError(new UploadError('EA_CORRUPT_AUDIO', 'broken')))
  t.ok(upload instanceof UploadError)
  t.match(upload, { code: 'EA_CORRUPT_AUDIO', statusCode: 422, message: 'broken' })
  const full: NodeJS.ErrnoException = new Error('no space left on device, write')
  full.code = 'ENOSPC'
  t.match(deserialiseError(serialiseError(full)), { code: 'ENOSPC', message: 'no space left on device, write', name: 'Error' })
  const plain = deserialiseError(serialiseError('a string was thrown'))
  t.match(plain, { message: 'a string was thrown' })
  const noStack = new TypeError('bare')
  delete noStack.stack
  t.same(serialiseError(noStack), { upload: false, name: 'TypeError', message: 'bare' })
})

t.test('ByteSource reads at the reader\'s pace and reports what it hands on', async t => {
  const taken: number[] = []
  const source = new ByteSource(bytes => taken.push(bytes))
  const reading = source.read(5)
  source.push(latin1('abc'))
  source.push(latin1('defgh'))
  t.equal((await reading).toString(), 'abcde')
  t.equal(await source.skip(2), 2)
  source.push(latin1('ij'))
  source.end()
  t.equal((await source.read(10)).toString(), 'hij', 'fewer at the end')
  t.equal(await source.skip(3), 0)
  t.equal(await source.readSome(), undefined)
  t.same(taken, [3, 5, 2])
  const failing = new ByteSource()
  const pending = failing.readSome()
  failing.fail(new Error('cancelled'))
  await t.rejects(pending, { message: 'cancelled' })
  const later = new ByteSource()
  later.push(latin1('x'))
  later.fail(new Error('cancelled'))
  await t.rejects(later.readSome(), { message: 'cancelled' }, 'even with bytes waiting')
})

t.test('floats to 16-bit PCM: scaled by 32768, rounded, clipped, interleaved', async t => {
  const pcm = floatToInt16([Float32Array.of(0, 0.5, -1, 1.5), Float32Array.of(1 / 32768, -0.5, -1.5, 0.99999)], 4)
  t.same([...new Int16Array(pcm.buffer, pcm.byteOffset, 8)], [0, 1, 16384, -16384, -32768, -32768, 32767, 32767])
})

t.test('FLAC floats back to the integers, left-justified in WAV containers; the MD5 view stays at the source depth', async t => {
  const cases: Array<[number, number[], number[], number[]]> = [
    // bits, samples, WAV bytes, signature bytes
    [8, [-128, 127, 0], [0x00, 0xff, 0x80], [0x80, 0x7f, 0x00]],
    [12, [-2048, 2047], [0x00, 0x80, 0xf0, 0x7f], [0x00, 0xf8, 0xff, 0x07]],
    [16, [-32768, 1], [0x00, 0x80, 0x01, 0x00], [0x00, 0x80, 0x01, 0x00]],
    [20, [-1], [0xf0, 0xff, 0xff], [0xff, 0xff, 0xff]],
    [24, [-8388608, 8388607], [0x00, 0x00, 0x80, 0xff, 0xff, 0x7f], [0x00, 0x00, 0x80, 0xff, 0xff, 0x7f]]
  ]
  for (const [bits, samples, wav, signature] of cases) {
    const scale = 2 ** (bits - 1) - 1
    const floats = Float32Array.from(samples, v => Math.fround(v / scale))
    const out = flacFloatsToPcm([floats], samples.length, bits)
    t.same([...out.pcm], wav, `${bits}-bit WAV`)
    t.same([...out.signature], signature, `${bits}-bit signature`)
  }
})

t.test('80-bit extended floats (AIFF sample rates)', async t => {
  t.equal(readExtended(Buffer.from('400eac44000000000000', 'hex'), 0), 44100)
  t.equal(readExtended(Buffer.from('400ebb80000000000000', 'hex'), 0), 48000)
  t.equal(readExtended(Buffer.from('c00eac44000000000000', 'hex'), 0), -44100)
  t.equal(readExtended(Buffer.alloc(10), 0), 0)
})

t.test('Ogg CRC', async t => {
  // The checksum of "123456789" for CRC-32/MPEG-2 (unreflected 0x04c11db7, init 0 here, no final xor) is 0x89a1897f.
  t.equal(oggCrc(latin1('123456789')), 0x89a1897f)
})

t.test('WavSink writes a WAV the service reads, and refuses what it cannot store', async t => {
  const dir = t.testdir({})
  const stereo16: WavFormat = { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate: 44100, blockAlign: 4 }
  const handle = await open(join(dir, 'a.wav'), 'w+')
  const sink = new WavSink(handle.fd, MAX_WAV_BYTES)
  sink.start(stereo16)
  sink.write(Buffer.alloc(0))
  sink.write(Buffer.alloc(4 * 1000, 7))
  sink.write(Buffer.alloc(4 << 20, 9))
  sink.start({ ...stereo16 })
  t.equal(sink.finish(), 1000 + (1 << 20))
  const layout = await readWavLayout(handle)
  await handle.close()
  t.match(layout, { frames: 1000 + (1 << 20), format: stereo16 })
  const bytes = await readFile(join(dir, 'a.wav'))
  t.equal(bytes[layout.dataOffset], 7)
  t.equal(bytes[bytes.length - 1], 9)

  const odd = await open(join(dir, 'odd.wav'), 'w+')
  const mono8 = new WavSink(odd.fd, MAX_WAV_BYTES)
  mono8.start({ encoding: 'int', bitsPerSample: 8, channels: 1, sampleRate: 8000, blockAlign: 1 })
  mono8.write(Buffer.alloc(3, 0x80))
  t.equal(mono8.finish(), 3)
  t.equal((await odd.stat()).size, 44 + 4, 'the data chunk is padded to an even size')
  await odd.close()

  const refused = (name: string, act: (s: WavSink) => void, pattern: RegExp, code = 'EA_UNPLAYABLE_AUDIO') => {
    const s = new WavSink(-1, 1000)
    t.throws(() => act(s), { code, message: pattern }, name)
  }
  refused('a format change', s => { s.start(stereo16); s.start({ ...stereo16, sampleRate: 48000 }) }, /changes format mid-way \(44100 Hz, 2 channel\(s\), 16-bit int, then 48000 Hz/, 'EA_CORRUPT_AUDIO')
  refused('999 Hz', s => s.start({ ...stereo16, sampleRate: 999 }), /999 Hz/)
  refused('0 channels', s => s.start({ ...stereo16, channels: 0 }), /0 channels/)
  refused('too long', s => { s.start(stereo16); s.write(Buffer.alloc(1000)) }, /over 955 bytes/)
  refused('nothing written', s => s.finish(), /no audio frames/)
})

t.test('a ByteSource with a CPU share rests in proportion to the work done on the last chunk', async t => {
  const source = new ByteSource(() => {}, 0.5)
  source.push(new Uint8Array(4))
  t.same(await source.readSome(), new Uint8Array(4))
  const workFrom = performance.now()
  while (performance.now() - workFrom < 40);
  source.push(new Uint8Array(4))
  const asked = performance.now()
  await source.readSome()
  t.ok(performance.now() - asked >= 35, 'after 40 ms of work at half a core, about 40 ms of rest')
  source.end()
  t.equal(await source.readSome(), undefined)
})
