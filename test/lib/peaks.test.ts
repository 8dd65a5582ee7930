import t from 'tap'
import { join } from 'node:path'
import WaveformData from 'waveform-data'
import {
  audiowaveformJson, DEFAULT_SAMPLES_PER_PIXEL, patchPeaks, PeaksAccumulator, peaksLength, peaksOfFile, pixelsOfSegments, samplesPerPixelFor,
  type ChannelMode, type Peaks
} from '../../lib/peaks.js'
import { readSample, writeSample } from '../../lib/pcm.js'
import type { WavFormat } from '../../lib/wav-format.js'
import { testFrames, writeTestWav } from '../fixtures/wav-fixtures.js'

function format (encoding: 'int' | 'float', bitsPerSample: number, channels: number): WavFormat {
  return { encoding, bitsPerSample, channels, sampleRate: 8000, blockAlign: channels * bitsPerSample / 8 }
}

const FORMATS: WavFormat[] = [
  format('int', 8, 1), format('int', 16, 2), format('int', 24, 2), format('int', 32, 1),
  format('float', 32, 2), format('float', 64, 3), format('int', 16, 6)
]
const name = (f: WavFormat) => `${f.encoding} ${f.bitsPerSample}-bit ${f.channels} ch`

/**
 * The reference: every sample through pcm.ts's general codec, taken to 16
 * bits by the documented rule, mixed in integers, min/max pixel by pixel.
 * Written for clarity, not speed; it shares no code with lib/peaks.ts.
 */
function reference (frames: Buffer, f: WavFormat, spp: number, mode: ChannelMode): number[] {
  const width = f.bitsPerSample / 8
  const count = frames.length / f.blockAlign
  const to16 = (x: number) => Math.max(-32768, Math.min(32767, Math.floor(x * 32768)))
  const out: number[] = []
  const outChannels = mode === 'mixed' ? 1 : f.channels
  for (let first = 0; first < count; first += spp) {
    const columns: number[][] = Array.from({ length: outChannels }, () => [])
    for (let i = first; i < Math.min(count, first + spp); i++) {
      const samples = Array.from({ length: f.channels }, (_, c) => to16(readSample(frames, i * f.blockAlign + c * width, f)))
      if (mode === 'mixed') columns[0]!.push(Math.trunc(samples.reduce((a, b) => a + b, 0) / f.channels))
      else samples.forEach((v, c) => columns[c]!.push(v))
    }
    for (const column of columns) out.push(Math.min(...column), Math.max(...column))
  }
  return out
}

function accumulate (frames: Buffer, f: WavFormat, spp: number, mode: ChannelMode, chunk: number): Peaks {
  const peaks = new PeaksAccumulator(f, frames.length / f.blockAlign, { samplesPerPixel: spp, channels: mode })
  for (let p = 0; p < frames.length; p += chunk) peaks.push(frames.subarray(p, p + chunk))
  return peaks.finish()
}

t.test('min/max per pixel match the reference in every format, mixed and split, whatever the chunking', async t => {
  const count = 1000
  for (const f of FORMATS) {
    const frames = testFrames(f, 0, count)
    for (const mode of ['mixed', 'split'] as const) {
      for (const spp of [2, 7, 256, 1000, 4096]) {
        const expected = reference(frames, f, spp, mode)
        // Chunks that split frames (1, 5 bytes) and chunks larger than the track.
        for (const chunk of [1, 5, f.blockAlign * 3, 4096, frames.length + 1]) {
          const peaks = accumulate(frames, f, spp, mode, chunk)
          if (chunk === 1) {
            t.equal(peaks.length, peaksLength(count, spp), `${name(f)} ${mode} ${spp}: length`)
            t.equal(peaks.channels, mode === 'mixed' ? 1 : f.channels)
            t.equal(peaks.sampleRate, 8000)
          }
          if (JSON.stringify([...peaks.data]) !== JSON.stringify(expected)) {
            t.same([...peaks.data], expected, `${name(f)} ${mode} spp ${spp} chunk ${chunk}`)
          }
        }
      }
    }
    t.pass(`${name(f)}: all zooms and chunkings agree with the reference`)
  }
})

t.test('edge values: full scale, the most negative code, silence, NaN', async t => {
  const cases: Array<[WavFormat, number[], [number, number]]> = [
    [format('int', 8, 1), [-1, 0, 127 / 128], [-32768, 32512]],
    [format('int', 16, 1), [-1, 0, 32767 / 32768], [-32768, 32767]],
    [format('int', 24, 1), [-1, -1 / 8388608, 8388607 / 8388608], [-32768, 32767]],
    [format('int', 32, 1), [-1, -1 / 2147483648, 0.5], [-32768, 16384]],
    [format('float', 32, 1), [-1.5, 0, 2], [-32768, 32767]],
    [format('float', 64, 1), [Number.NaN, 0.25, -0.25], [-8192, 8192]]
  ]
  for (const [f, values, minMax] of cases) {
    const frames = Buffer.alloc(values.length * f.blockAlign)
    values.forEach((v, i) => {
      if (Number.isNaN(v)) frames.writeDoubleLE(v, i * 8)
      else writeSample(frames, i * f.blockAlign, f, v)
    })
    t.same([...accumulate(frames, f, values.length, 'mixed', 64).data], minMax, name(f))
  }
  const silence = accumulate(Buffer.alloc(40), format('int', 16, 2), 4, 'split', 40)
  t.same([...silence.data], new Array(12).fill(0), 'digital silence is 0, 0')
})

t.test('mixing divides towards zero, as audiowaveform does in C++', async t => {
  const f = format('int', 16, 2)
  const frames = Buffer.alloc(8)
  frames.writeInt16LE(-3, 0)
  frames.writeInt16LE(0, 2)
  frames.writeInt16LE(3, 4)
  frames.writeInt16LE(0, 6)
  t.same([...accumulate(frames, f, 2, 'mixed', 8).data], [-1, 1], '-3/2 is -1 and 3/2 is 1')
})

t.test('8-bit values are the 16-bit ones divided by 256 towards zero', async t => {
  const f = format('int', 16, 1)
  const values = [-32768, -257, -255, -1, 0, 255, 256, 32767]
  const frames = Buffer.alloc(values.length * 2)
  values.forEach((v, i) => frames.writeInt16LE(v, i * 2))
  const peaks = accumulate(frames, f, 2, 'split', 16)
  t.same([...peaks.data], [-32768, -257, -255, -1, 0, 255, 256, 32767])
  const json = JSON.parse(audiowaveformJson(peaks, 8))
  t.same(json.data, [-128, -1, 0, 0, 0, 0, 1, 127])
})

t.test('audiowaveform JSON: exactly its keys, in its order, and waveform-data reads it', async t => {
  const f = format('int', 16, 2)
  const frames = testFrames(f, 0, 3000)
  for (const mode of ['mixed', 'split'] as const) {
    const peaks = accumulate(frames, f, 512, mode, 4096)
    for (const bits of [8, 16] as const) {
      const text = audiowaveformJson(peaks, bits)
      const json = JSON.parse(text)
      t.same(Object.keys(json), ['version', 'channels', 'sample_rate', 'samples_per_pixel', 'bits', 'length', 'data'])
      t.match(json, { version: 2, channels: mode === 'mixed' ? 1 : 2, sample_rate: 8000, samples_per_pixel: 512, bits, length: 6 })
      const waveform = WaveformData.create(json)
      t.equal(waveform.channels, json.channels)
      t.equal(waveform.length, 6)
      t.equal(waveform.scale, 512)
      t.equal(waveform.sample_rate, 8000)
      t.equal(waveform.bits, bits)
      const expected = reference(frames, f, 512, mode).map(v => bits === 8 ? Math.trunc(v / 256) : v)
      const read: number[] = []
      for (let i = 0; i < waveform.length; i++) {
        for (let c = 0; c < waveform.channels; c++) read.push(waveform.channel(c).min_sample(i), waveform.channel(c).max_sample(i))
      }
      t.same(read, expected, `${mode}, ${bits} bits: waveform-data reads the values computed by the reference`)
      // And it round-trips through waveform-data's own writer unchanged.
      t.same(waveform.toJSON(), json)
    }
  }
})

t.test('peaksOfFile streams a WAV file from its data chunk', async t => {
  const dir = t.testdir()
  for (const options of [{ channels: 2, bitsPerSample: 16 }, { channels: 3, bitsPerSample: 24 }, { channels: 1, encoding: 'float' as const, bitsPerSample: 32 }]) {
    const wav = await writeTestWav(join(dir, `${options.channels}.wav`), { ...options, frames: 100_003, chunksBeforeData: [{ id: 'LIST', body: Buffer.alloc(11, 1) }] })
    const peaks = await peaksOfFile(wav.path, { format: wav.format, dataOffset: wav.dataOffset, frames: wav.frames }, { samplesPerPixel: 1000, channels: 'split' })
    t.same([...peaks.data], reference(testFrames(wav.format, 0, wav.frames), wav.format, 1000, 'split'), name(wav.format))
    t.equal(peaks.length, 101)
  }
  const empty = await peaksOfFile(join(dir, 'missing.wav'), { format: format('int', 16, 2), dataOffset: 44, frames: 0 }, { samplesPerPixel: 256, channels: 'mixed' })
  t.same(empty, { sampleRate: 8000, samplesPerPixel: 256, channels: 1, length: 0, data: new Int16Array(0) }, 'no frames, no pixels, no read')
  await t.rejects(peaksOfFile(join(dir, 'missing.wav'), { format: format('int', 16, 2), dataOffset: 44, frames: 10 }, { samplesPerPixel: 256, channels: 'mixed' }), { code: 'ENOENT' })
})

t.test('refuses what it cannot do', async t => {
  const f = format('int', 16, 2)
  for (const spp of [0, 1, 2.5, Number.NaN]) {
    t.throws(() => new PeaksAccumulator(f, 10, { samplesPerPixel: spp, channels: 'mixed' }), RangeError, `samples per pixel ${spp}`)
  }
  t.throws(() => new PeaksAccumulator(format('int', 12, 1), 10, { samplesPerPixel: 2, channels: 'mixed' }), /no peak decoder/)
  t.throws(() => new PeaksAccumulator(format('float', 16, 1), 10, { samplesPerPixel: 2, channels: 'mixed' }), /no peak decoder/)
  const tooMany = new PeaksAccumulator(f, 2, { samplesPerPixel: 2, channels: 'mixed' })
  t.throws(() => tooMany.push(Buffer.alloc(12)), /more than the 2 frames/)
  const tooFew = new PeaksAccumulator(f, 2, { samplesPerPixel: 2, channels: 'mixed' })
  tooFew.push(Buffer.alloc(6))
  t.throws(() => tooFew.finish(), /expected 2 frames, got 1 and 2 stray bytes/)
})

t.test('zoom: samples_per_pixel as given, pixels_per_second rounded down, audiowaveform\'s default otherwise', async t => {
  t.equal(samplesPerPixelFor(44100, { samplesPerPixel: 512 }), 512)
  t.equal(samplesPerPixelFor(44100, { pixelsPerSecond: 100 }), 441)
  t.equal(samplesPerPixelFor(8000, { pixelsPerSecond: 3 }), 2666)
  t.equal(samplesPerPixelFor(8000, {}), DEFAULT_SAMPLES_PER_PIXEL)
  t.equal(peaksLength(1000, 7), 143)
  t.equal(peaksLength(0, 7), 0)
})

t.test('pixelsOfSegments: the pixels a segment touches, merged', async t => {
  // Segments of 100 frames, 350 frames in all (the last segment is 50 frames).
  t.same(pixelsOfSegments([0], 100, 350, 30), [{ first: 0, last: 3 }], 'frames 0-99: pixels 0-3, the last shared with segment 1')
  t.same(pixelsOfSegments([1], 100, 350, 30), [{ first: 3, last: 6 }])
  t.same(pixelsOfSegments([3, 0], 100, 350, 30), [{ first: 0, last: 3 }, { first: 10, last: 11 }], 'sorted, the short last segment cut at the end')
  t.same(pixelsOfSegments([2, 1, 0], 100, 350, 30), [{ first: 0, last: 9 }], 'neighbours merge')
  t.same(pixelsOfSegments([0, 2], 100, 350, 50), [{ first: 0, last: 1 }, { first: 4, last: 5 }], 'aligned zooms share no pixel')
  t.same(pixelsOfSegments([0, 1], 100, 350, 50), [{ first: 0, last: 3 }], 'adjacent ranges merge')
  t.same(pixelsOfSegments([4], 100, 350, 30), [], 'a segment past the end has no pixels')
  t.same(pixelsOfSegments([], 100, 350, 30), [])
})

t.test('a range read and patched in equals the whole read', async t => {
  const dir = t.testdir()
  const wav = await writeTestWav(join(dir, 'a.wav'), { channels: 2, frames: 10_007 })
  const layout = { format: wav.format, dataOffset: wav.dataOffset, frames: wav.frames }
  const options = { samplesPerPixel: 300, channels: 'split' as const }
  const whole = await peaksOfFile(wav.path, layout, options)
  const ranges = pixelsOfSegments([3, 20], 400, wav.frames, 300)
  const parts = await Promise.all(ranges.map(async range => ({ range, peaks: await peaksOfFile(wav.path, layout, options, range) })))
  t.same([...parts[0]!.peaks.data], [...whole.data.subarray(ranges[0]!.first * 4, (ranges[0]!.last + 1) * 4)], 'a range is exactly those pixels')
  const last = await peaksOfFile(wav.path, layout, options, { first: 33, last: 40 })
  t.equal(last.length, 1, 'a range past the end stops at the last pixel')
  const blank = { ...whole, data: new Int16Array(whole.data.length) }
  const patched = patchPeaks(blank, parts)
  t.same(blank.data, new Int16Array(whole.data.length), 'the base is left as it was')
  for (const { range } of parts) {
    t.same([...patched.data.subarray(range.first * 4, (range.last + 1) * 4)], [...whole.data.subarray(range.first * 4, (range.last + 1) * 4)])
  }
  t.equal(patched.data[(ranges[0]!.last + 1) * 4], 0, 'pixels outside the ranges keep the base\'s values')
})
