/**
 * Sources for the decoding tests, made with sox and ffmpeg (test oracles
 * only: the service never calls them) from known WAV files.
 */
import { execFile } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { decodeToWav, type DecodedAudio, type DecodeOptions } from '../../../lib/decode/index.js'
import { readWavLayout } from '../../../lib/riff.js'
import type { WavLayout } from '../../../lib/wav-format.js'

const run = promisify(execFile)

export async function ffmpeg (...args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args])
}

export async function sox (...args: string[]): Promise<void> {
  await run('sox', args)
}

/** Frames ffmpeg decodes from `path` (gapless where the format allows): the reference length. */
export async function ffmpegFrames (path: string, channels: number): Promise<number> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path, '-f', 's16le', '-'],
    { encoding: 'buffer', maxBuffer: 1 << 28 })
  return stdout.length / 2 / channels
}

export interface SignalOptions {
  rate: number
  seconds: number
  channels?: number
  /** sox's output options: ['-b', '16'], ['-b', '24'], ['-e', 'floating-point', '-b', '32']... */
  encoding?: string[]
  /** Noise exercises every bit (lossless tests); tones suit lossy codecs. */
  noise?: boolean
}

/** A known signal: a chirp and a tone (and full-range noise on request), dither off so conversions are exact. */
export async function makeSignal (path: string, options: SignalOptions): Promise<void> {
  const { rate, seconds, channels = 2, encoding = ['-b', '16'], noise = false } = options
  const synth = noise
    ? ['synth', String(seconds), 'whitenoise', 'sine', '300', 'vol', '0.97']
    : ['synth', String(seconds), 'sine', '200-3000', 'sine', '330', 'vol', '0.5']
  await sox('-R', '-D', '-n', '-r', String(rate), '-c', String(channels), ...encoding, path, ...synth)
}

export async function wavOf (path: string): Promise<{ layout: WavLayout, data: Buffer }> {
  const file = await open(path)
  try {
    const layout = await readWavLayout(file)
    const data = Buffer.alloc(layout.dataSize)
    await file.read(data, 0, data.length, layout.dataOffset)
    return { layout, data }
  } finally {
    await file.close()
  }
}

/** Decode a file the way an upload is: streamed from disk. */
export async function decodeFile (path: string, outPath: string, options: Partial<DecodeOptions> = {}): Promise<DecodedAudio> {
  return await decodeToWav(createReadStream(path), outPath, { maxBytes: 1 << 30, ...options })
}

/** `bytes` as an async iterable of small chunks of varying sizes, to exercise every parser's carry-over. */
export async function * dribble (bytes: Buffer, sizes: readonly number[] = [1, 2, 3, 5, 7, 11, 13, 64, 333, 4096]): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] as number
    yield bytes.subarray(at, at + size)
    at += size
  }
}

/** Channel 0 of 16-bit interleaved PCM. */
export function firstChannel (data: Buffer, channels: number): Int16Array {
  const all = new Int16Array(data.buffer, data.byteOffset, data.length / 2)
  return all.filter((_, i) => i % channels === 0)
}

/** Pearson correlation of a[from, to) and b shifted by `lag` (b[i + lag] against a[i]). */
export function correlation (a: Int16Array, b: Int16Array, lag = 0, from = 2048, to = Math.min(a.length, b.length) - 2048): number {
  let sab = 0
  let saa = 0
  let sbb = 0
  for (let i = from; i < to; i++) {
    const x = a[i] as number
    const y = b[i + lag] as number
    sab += x * y
    saa += x * x
    sbb += y * y
  }
  return sab / Math.sqrt(saa * sbb)
}

/** The lag within ±maxLag where b best matches a, and that correlation. */
export function bestAlignment (a: Int16Array, b: Int16Array, maxLag = 1200): { lag: number, correlation: number } {
  let best = { lag: 0, correlation: -Infinity }
  // A window of a few thousand frames in the middle is plenty to find the lag.
  const from = Math.floor(a.length / 2)
  for (let lag = -maxLag; lag <= maxLag; lag += 1) {
    const c = correlation(a, b, lag, from, from + 2048)
    if (c > best.correlation) best = { lag, correlation: c }
  }
  return best
}

export async function bytesOf (dir: string, name: string): Promise<Buffer> {
  return await readFile(join(dir, name))
}
