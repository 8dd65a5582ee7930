import t from 'tap'
import { applyGains, readSample, silentFrameCount, writeSample } from '../../lib/pcm.js'
import type { WavFormat } from '../../lib/wav-format.js'
import { testFrames } from '../fixtures/wav-fixtures.js'

function format (encoding: 'int' | 'float', bitsPerSample: number, channels = 2): WavFormat {
  return { encoding, bitsPerSample, channels, sampleRate: 8000, blockAlign: channels * bitsPerSample / 8 }
}

const FORMATS: WavFormat[] = [
  format('int', 8), format('int', 16), format('int', 24), format('int', 32),
  format('float', 32), format('float', 64)
]
const name = (f: WavFormat) => `${f.encoding} ${f.bitsPerSample}-bit ${f.channels} ch`

/** Largest error rounding may add: half an integer step, or float32's precision near 1. */
function tolerance (f: WavFormat): number {
  if (f.encoding === 'int') return 0.5 / 2 ** (f.bitsPerSample - 1) + 1e-12
  return f.bitsPerSample === 32 ? 1e-7 : 0
}

function samplesOf (buf: Buffer, f: WavFormat): number[] {
  const width = f.bitsPerSample / 8
  return Array.from({ length: buf.length / width }, (_, i) => readSample(buf, i * width, f))
}

t.test('write then read gives the value back, per format', async (t) => {
  for (const f of FORMATS) {
    const buf = Buffer.alloc(f.bitsPerSample / 8)
    for (const value of [-1, -0.5, -0.123456, 0, 0.3, 0.5, 0.99]) {
      writeSample(buf, 0, f, value)
      const back = readSample(buf, 0, f)
      t.ok(Math.abs(back - value) <= tolerance(f), `${name(f)}: ${value} came back as ${back}`)
    }
  }
})

t.test('integer codes at the edges of the range', async (t) => {
  const cases: Array<[WavFormat, number, string]> = [
    [format('int', 8), -1, '00'], [format('int', 8), 0, '80'], [format('int', 8), 1, 'ff'], [format('int', 8), -7, '00'],
    [format('int', 16), -1, '0080'], [format('int', 16), 0, '0000'], [format('int', 16), 1, 'ff7f'], [format('int', 16), 5, 'ff7f'],
    [format('int', 24), -1, '000080'], [format('int', 24), 1, 'ffff7f'], [format('int', 24), 0.5, '000040'],
    [format('int', 32), -1, '00000080'], [format('int', 32), 1, 'ffffff7f'], [format('int', 32), -2, '00000080'],
    [format('int', 16), NaN, '0000'], [format('int', 8), NaN, '80']
  ]
  for (const [f, value, hex] of cases) {
    const buf = Buffer.alloc(f.bitsPerSample / 8, 0x55)
    writeSample(buf, 0, f, value)
    t.equal(buf.toString('hex'), hex, `${name(f)} writes ${value} as ${hex}`)
  }
  t.equal(readSample(Buffer.from('0080', 'hex'), 0, format('int', 16)), -1)
  t.equal(readSample(Buffer.from('000080', 'hex'), 0, format('int', 24)), -1)
  t.equal(readSample(Buffer.from('00000080', 'hex'), 0, format('int', 32)), -1)
  t.equal(readSample(Buffer.from('00', 'hex'), 0, format('int', 8)), -1)
  t.equal(readSample(Buffer.from('ff', 'hex'), 0, format('int', 8)), 127 / 128)
})

t.test('floats are stored as they are, beyond ±1 too', async (t) => {
  for (const f of [format('float', 32), format('float', 64)]) {
    const buf = Buffer.alloc(f.bitsPerSample / 8)
    writeSample(buf, 0, f, 1.5)
    t.equal(readSample(buf, 0, f), 1.5)
    writeSample(buf, 0, f, -0.25)
    t.equal(readSample(buf, 0, f), -0.25)
  }
})

t.test('applyGains: 0 silences exactly, 1 is bit-exact, 0.5 halves', async (t) => {
  const gains = Float32Array.from([0, 1, 0.5, 0, 0, 1, 0.5, 0.25, 0])
  for (const f of [...FORMATS, format('int', 24, 1), format('int', 16, 6), format('float', 32, 6)]) {
    t.test(name(f), async (t) => {
      const original = testFrames(f, 0, gains.length)
      const frames = Buffer.from(original)
      applyGains(frames, f, gains)
      const silence = f.encoding === 'int' && f.bitsPerSample === 8 ? 0x80 : 0
      for (let i = 0; i < gains.length; i++) {
        const gain = gains[i]!
        const at = (buf: Buffer) => buf.subarray(i * f.blockAlign, (i + 1) * f.blockAlign)
        if (gain === 0) {
          t.ok(at(frames).every((b) => b === silence), `frame ${i} is exact silence`)
        } else if (gain === 1) {
          t.same(at(frames), at(original), `frame ${i} is untouched`)
        } else {
          const before = samplesOf(at(original), f)
          const after = samplesOf(at(frames), f)
          const worst = Math.max(...after.map((v, c) => Math.abs(v - before[c]! * gain)))
          t.ok(worst <= tolerance(f), `frame ${i} scaled by ${gain} (worst error ${worst})`)
        }
      }
      t.equal(silentFrameCount(frames, f), 4)
      t.equal(silentFrameCount(original, f), 0, 'the test signal is never silent')
    })
  }
})

t.test('applyGains clamps integers instead of wrapping', async (t) => {
  const s16 = format('int', 16, 1)
  const frames = Buffer.alloc(6)
  frames.writeInt16LE(30000, 0)
  frames.writeInt16LE(-30000, 2)
  frames.writeInt16LE(-32768, 4)
  applyGains(frames, s16, Float32Array.from([2, 2, -1]))
  t.same([frames.readInt16LE(0), frames.readInt16LE(2), frames.readInt16LE(4)], [32767, -32768, 32767])

  const u8 = format('int', 8, 1)
  const bytes = Buffer.from([0xf0, 0x10])
  applyGains(bytes, u8, Float32Array.from([3, 3]))
  t.same([...bytes], [0xff, 0x00])

  const s24 = format('int', 24, 1)
  const wide = Buffer.from('ffff7f000080', 'hex')
  applyGains(wide, s24, Float32Array.from([1.5, -1]))
  t.equal(wide.toString('hex'), 'ffff7fffff7f')

  const s32 = format('int', 32, 1)
  const widest = Buffer.from('ffffff7f', 'hex')
  applyGains(widest, s32, Float32Array.from([-1.5]))
  t.equal(widest.toString('hex'), '00000080')
})

t.test('gain 1 leaves any bytes alone, even float NaN payloads and -0.0', async (t) => {
  for (const f of FORMATS) {
    const original = Buffer.from(Array.from({ length: f.blockAlign * 64 }, (_, i) => (i * 37 + 11) & 0xff))
    const frames = Buffer.from(original)
    applyGains(frames, f, new Float32Array(64).fill(1))
    t.ok(frames.equals(original), name(f))
  }
})

t.test('gain 0 writes +0.0, never -0.0, for negative float samples', async (t) => {
  const f = format('float', 64, 1)
  const frames = Buffer.alloc(8)
  frames.writeDoubleLE(-0.5, 0)
  applyGains(frames, f, Float32Array.from([0]))
  t.equal(frames.toString('hex'), '0000000000000000')
})

t.test('applyGains refuses inputs that do not line up', async (t) => {
  const f = format('int', 16)
  t.throws(() => applyGains(Buffer.alloc(10), f, new Float32Array(2)), RangeError, 'partial frame')
  t.throws(() => applyGains(Buffer.alloc(8), f, new Float32Array(3)), RangeError, 'too many gains')
  const untouched = Buffer.from('0102030405060708', 'hex')
  t.throws(() => applyGains(untouched, f, Float32Array.from([0.5, NaN])), RangeError, 'NaN gain')
  t.equal(untouched.toString('hex'), '0102030405060708', 'a bad gain leaves every frame as it was')
  t.throws(() => applyGains(Buffer.alloc(8), f, Float32Array.from([Infinity, 1])), RangeError, 'infinite gain')
  t.throws(() => applyGains(Buffer.alloc(8), format('int', 12), new Float32Array(2)), RangeError, '12-bit')
  t.throws(() => readSample(Buffer.alloc(8), 0, format('float', 16)), RangeError, 'float 16')
  t.throws(() => writeSample(Buffer.alloc(8), 0, format('float', 16), 0), RangeError, 'float 16')
  t.throws(() => silentFrameCount(Buffer.alloc(3), f), RangeError, 'partial frame')
})

t.test('silentFrameCount counts frames silent on every channel', async (t) => {
  const s16 = format('int', 16)
  const frames = Buffer.alloc(4 * 4)
  frames.writeInt16LE(1, 4) // left only
  frames.writeInt16LE(-1, 10) // right only
  t.equal(silentFrameCount(frames, s16), 2)
  t.equal(silentFrameCount(Buffer.alloc(0), s16), 0)

  const u8 = format('int', 8, 1)
  t.equal(silentFrameCount(Buffer.from([0x80, 0x00, 0x80, 0x81]), u8), 2, '0x00 is full-scale, not silence')

  const f32 = format('float', 32)
  const floats = Buffer.alloc(3 * 8)
  floats.writeFloatLE(-0, 0)
  floats.writeFloatLE(1e-30, 12)
  t.equal(silentFrameCount(floats, f32), 2, '-0.0 is silence, a tiny value is not')

  const f64 = format('float', 64, 1)
  const doubles = Buffer.alloc(2 * 8)
  doubles.writeDoubleLE(-0, 0)
  doubles.writeDoubleLE(Number.MIN_VALUE, 8)
  t.equal(silentFrameCount(doubles, f64), 1)
})
