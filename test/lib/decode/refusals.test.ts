/**
 * decodeToWav's contract end to end (through the worker): what is refused
 * with which status, that nothing is left behind, and that it stops reading
 * as soon as it has to.
 */
import { access, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import t from 'tap'
import { decodeToWav, SUPPORTED_FORMATS_TEXT, UploadError } from '../../../lib/decode/index.js'
import { decodeFile, ffmpeg, makeSignal, sox } from './fixtures.js'

const dir = t.testdir({})
const at = (name: string) => join(dir, name)

await makeSignal(at('s.wav'), { rate: 44100, seconds: 1 })
await Promise.all([
  sox(at('s.wav'), '-t', 'flac', at('flac')),
  ffmpeg('-i', at('s.wav'), '-c:a', 'libmp3lame', '-f', 'mp3', at('mp3')),
  ffmpeg('-i', at('s.wav'), '-c:a', 'adpcm_ima_wav', '-f', 'wav', at('adpcm')),
  ffmpeg('-i', at('s.wav'), '-c:a', 'mp2', '-f', 'mp2', at('mp2')),
  ffmpeg('-i', at('s.wav'), '-c:a', 'flac', '-f', 'ogg', at('ogg-flac')),
  ffmpeg('-i', at('s.wav'), '-c:a', 'aac', '-f', 'ipod', at('m4a')),
  ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=64x64', '-frames:v', '1', '-f', 'image2', '-c:v', 'png', at('png'))
])
await writeFile(at('text'), 'Not audio at all, just some words.\n')
await writeFile(at('empty'), '')

async function exists (path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false)
}

async function refusalOf (promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('it was accepted')
}

let outputs = 0
const out = () => at(`out-${++outputs}.wav`)

/** A WAV header for `frames` frames of 16-bit stereo at `rate`, with `dataBytes` of data following. */
function wav (rate: number, declared: number, dataBytes: number): Buffer {
  const head = Buffer.alloc(44)
  head.write('RIFF', 'latin1')
  head.writeUInt32LE(36 + declared, 4)
  head.write('WAVEfmt ', 8, 'latin1')
  head.writeUInt32LE(16, 16)
  head.writeUInt16LE(1, 20)
  head.writeUInt16LE(2, 22)
  head.writeUInt32LE(rate, 24)
  head.writeUInt32LE(rate * 4, 28)
  head.writeUInt16LE(4, 32)
  head.writeUInt16LE(16, 34)
  head.write('data', 36, 'latin1')
  head.writeUInt32LE(declared, 40)
  return Buffer.concat([head, Buffer.alloc(dataBytes, 1)])
}

t.test('not audio, or audio the service does not decode: 415, naming the supported formats', async t => {
  const cases: Array<[string, RegExp]> = [
    ['text', /^not audio in a supported format/],
    ['png', /^not audio in a supported format/],
    ['empty', /^the upload is empty/],
    ['mp2', /^not audio in a supported format/],
    ['ogg-flac', /^an Ogg file, but not Vorbis or Opus/],
    ['m4a', /^an MP4 \/ M4A file/]
  ]
  for (const [name, message] of cases) {
    const path = out()
    const err = await refusalOf(decodeFile(at(name), path))
    t.ok(err instanceof UploadError, name)
    t.match(err, { statusCode: 415, code: 'EA_UNSUPPORTED_FORMAT', message }, name)
    t.ok(err.message.endsWith(`supported formats: ${SUPPORTED_FORMATS_TEXT}`), `${name}: lists the formats`)
    t.notOk(await exists(path), `${name}: nothing left behind`)
  }
})

t.test('WAV files are checked by the service\'s own parser', async t => {
  const cases: Array<[string, Buffer, number, string, RegExp]> = [
    ['compressed', await readFile(at('adpcm')), 415, 'EA_UNSUPPORTED_FORMAT', /IMA ADPCM/],
    ['RIFF WAVE, then garbage', Buffer.concat([Buffer.from('RIFF\x10\x00\x00\x00WAVE', 'latin1'), Buffer.alloc(64, 0x41)]), 422, 'EA_CORRUPT_AUDIO', /broken/],
    ['cut short', wav(44100, 4000, 1000), 422, 'EA_CORRUPT_AUDIO', /truncated: its data chunk announces 4000 bytes; 1000 are there/],
    ['500 Hz', wav(500, 400, 400), 422, 'EA_UNPLAYABLE_AUDIO', /500 Hz/],
    ['no frames', wav(44100, 0, 0), 422, 'EA_UNPLAYABLE_AUDIO', /no audio frames/]
  ]
  for (const [name, bytes, statusCode, code, message] of cases) {
    const path = out()
    const err = await refusalOf(decodeToWav(Readable.from([bytes]), path, { maxBytes: 1e6 }))
    t.match(err, { statusCode, code, message }, name)
    t.notOk(await exists(path), `${name}: nothing left behind`)
  }
  const path = out()
  t.match(await decodeToWav(Readable.from([wav(8000, 400, 400)]), path, { maxBytes: 1e6 }), { format: 'wav', frames: 100 }, 'a sound one is stored')
})

t.test('corrupt audio of a supported format: 422 through the worker, nothing left behind', async t => {
  const flac = await readFile(at('flac'))
  const mp3 = await readFile(at('mp3'))
  const cases: Array<[string, Buffer, RegExp]> = [
    ['truncated FLAC', flac.subarray(0, flac.length - 1000), /FLAC file is truncated/],
    ['truncated MP3', mp3.subarray(0, mp3.length - 1000), /MP3 file is truncated/]
  ]
  for (const [name, bytes, message] of cases) {
    const path = out()
    const err = await refusalOf(decodeToWav(Readable.from([bytes]), path, { maxBytes: 1e6 }))
    t.match(err, { statusCode: 422, code: 'EA_CORRUPT_AUDIO', message }, name)
    t.notOk(await exists(path), `${name}: nothing left behind`)
  }
})

t.test('a refusal comes as soon as the damage is seen, not at the end of the upload', async t => {
  const mp3 = await readFile(at('mp3'))
  let pulls = 0
  async function * damagedThenStalled () {
    pulls++
    // ffmpeg's ID3v2 tag, the first frames, then what no decoder can make sense of.
    yield Buffer.concat([mp3.subarray(0, 5000), Buffer.alloc(65536, 0x5a)])
    pulls++
    // A client that has more to send, but slowly.
    await new Promise(resolve => setTimeout(resolve, 60_000).unref())
  }
  const path = out()
  const started = Date.now()
  const err = await refusalOf(decodeToWav(damagedThenStalled(), path, { maxBytes: 1e9 }))
  t.match(err, { statusCode: 422, message: /MP3 stream is corrupt/ })
  t.ok(Date.now() - started < 30_000, 'long before the client would have finished')
  t.equal(pulls, 2, 'it was waiting for more')
  t.notOk(await exists(path))
})

t.test('too large: 413 as soon as maxBytes is passed, reading stops, the request stream is left to its owner', async t => {
  const mp3 = await readFile(at('mp3'))
  const body = new PassThrough({ highWaterMark: 1024 })
  let written = 0
  for (let i = 0; i < mp3.length; i += 1000) written += body.write(mp3.subarray(i, i + 1000)) ? 1 : 0
  const path = out()
  const err = await refusalOf(decodeToWav(body, path, { maxBytes: 5000 }))
  t.match(err, { statusCode: 413, code: 'EA_UPLOAD_TOO_LARGE', message: /larger than 5000 bytes/ })
  t.notOk(await exists(path), 'nothing left behind')
  t.notOk(body.destroyed, 'not destroyed: the HTTP layer can still answer on it')
  t.ok(body.readableLength > 0, 'the rest is not read')
  t.ok(written > 0)
})

t.test('aborted: rejects with the signal\'s reason, nothing left behind', async t => {
  const flac = await readFile(at('flac'))
  await t.test('before it starts: no file is created', async t => {
    const path = out()
    const err = await refusalOf(decodeToWav(Readable.from([flac]), path, { maxBytes: 1e9, signal: AbortSignal.abort() }))
    t.equal(err.name, 'AbortError')
    t.notOk(await exists(path))
  })
  await t.test('while waiting for the upload', async t => {
    const controller = new AbortController()
    async function * stalled () {
      yield flac.subarray(0, 20000)
      controller.abort(new Error('client went away'))
      await new Promise(resolve => setTimeout(resolve, 60_000).unref())
    }
    const path = out()
    const err = await refusalOf(decodeToWav(stalled(), path, { maxBytes: 1e9, signal: controller.signal }))
    t.equal(err.message, 'client went away')
    t.notOk(await exists(path))
  })
  await t.test('while the worker decodes', async t => {
    const controller = new AbortController()
    async function * chunks () {
      for (let i = 0; i < flac.length; i += 4096) {
        if (i === 4096 * 8) setImmediate(() => controller.abort())
        yield flac.subarray(i, i + 4096)
        await new Promise(resolve => setImmediate(resolve))
      }
    }
    const path = out()
    const err = await refusalOf(decodeToWav(chunks(), path, { maxBytes: 1e9, signal: controller.signal }))
    t.equal(err.name, 'AbortError')
    t.notOk(await exists(path))
    // The worker is still sound: the next upload decodes.
    t.match(await decodeFile(at('flac'), out()), { format: 'flac', frames: 44100 })
  })
})

t.test('an existing file is neither replaced nor removed', async t => {
  const path = out()
  await writeFile(path, 'precious')
  const err = await refusalOf(decodeFile(at('flac'), path))
  t.match(err, { code: 'EEXIST' })
  t.equal(await readFile(path, 'utf8'), 'precious')
})

t.test('errors of the input or of the caller are passed on, nothing left behind', async t => {
  async function * failing () {
    yield Buffer.from('fLaC')
    throw new Error('connection reset')
  }
  let path = out()
  t.match(await refusalOf(decodeToWav(failing(), path, { maxBytes: 1e9 })), { message: 'connection reset' })
  t.notOk(await exists(path))
  path = out()
  t.match(await refusalOf(decodeToWav(Readable.from(['text']), path, { maxBytes: 1e9 })), { name: 'TypeError', message: /a string/ })
  t.notOk(await exists(path))
  await t.rejects(decodeToWav(Readable.from([]), out(), { maxBytes: -1 }), RangeError)
})

t.test('a decoded track larger than maxOutputBytes: 422', async t => {
  const path = out()
  const err = await refusalOf(decodeFile(at('mp3'), path, { maxOutputBytes: 100_000 }))
  t.match(err, { statusCode: 422, code: 'EA_UNPLAYABLE_AUDIO', message: /too long/ })
  t.notOk(await exists(path))
})
