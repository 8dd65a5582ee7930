/**
 * Not a test: how fast uploads decode and how much memory that takes, on
 * long generated sources (20 minutes by default). Run it with
 *
 *   node --import @tapjs/typescript/import test/lib/decode/decode-bench.ts [--minutes 20] [--formats mp3,flac,vorbis,opus,wav]
 *
 * It prints, per format, the decode time (and times real time) and the
 * growth of the process's RSS (main thread and worker together) over a
 * baseline taken after a warm-up decode: constant memory means that growth
 * stays flat, whatever the length. And the main thread's event-loop delay
 * meanwhile: what listeners would feel.
 */
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { decodeToWav } from '../../../lib/decode/index.js'
import { ffmpeg } from './fixtures.js'

// `tap test/lib/decode` runs every file in the folder: this one only by hand.
if (process.env.TAP === '1') {
  console.log('1..0 # a benchmark, run by hand')
  process.exit(0)
}

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '20' },
    formats: { type: 'string', default: 'mp3,flac,vorbis,opus,wav,opus-silence,flac-silence' }
  }
})
const seconds = Number(args.minutes) * 60
const encoders: Record<string, string[]> = {
  mp3: ['-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3'],
  flac: ['-c:a', 'flac', '-f', 'flac'],
  vorbis: ['-c:a', 'libvorbis', '-q:a', '4', '-f', 'ogg'],
  opus: ['-c:a', 'libopus', '-b:a', '96k', '-f', 'ogg'],
  wav: ['-c:a', 'pcm_s16le', '-f', 'wav'],
  // Near-silence compresses best: a kilobyte of it decodes to seconds of audio.
  'opus-silence': ['-af', 'volume=0', '-c:a', 'libopus', '-f', 'ogg'],
  'flac-silence': ['-af', 'volume=0', '-c:a', 'flac', '-sample_fmt', 's16', '-f', 'flac']
}

const dir = await mkdtemp(join(tmpdir(), 'decode-bench-'))
try {
  // Two tones and a sweep: something for the encoders to work on.
  const signal = ['-f', 'lavfi', '-i', `aevalsrc=0.3*sin(2*PI*440*t)+0.2*sin(2*PI*(200+50*mod(t\\,30))*t)|0.3*sin(2*PI*660*t):s=44100:d=${seconds}`]
  await ffmpeg(...signal, '-c:a', 'libmp3lame', '-b:a', '32k', '-t', '2', '-f', 'mp3', join(dir, 'warm-up'))
  await decodeToWav(createReadStream(join(dir, 'warm-up')), join(dir, 'warm-up.wav'), { maxBytes: 1 << 30 })
  console.log(`${args.minutes} minutes of 44.1 kHz stereo; RSS growth over the baseline after a warm-up decode`)
  for (const format of args.formats.split(',')) {
    const source = join(dir, format)
    const encoding = Date.now()
    await ffmpeg(...signal, ...(encoders[format] ?? []), source)
    const encoded = (Date.now() - encoding) / 1000
    const out = join(dir, `${format}.wav`)
    globalThis.gc?.()
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 10)
    // What listeners would feel: the main thread's event-loop delay while the worker decodes.
    const delay = monitorEventLoopDelay({ resolution: 5 })
    delay.enable()
    const started = performance.now()
    const audio = await decodeToWav(createReadStream(source), out, { maxBytes: 2 ** 32 })
    const elapsed = (performance.now() - started) / 1000
    clearInterval(sampler)
    delay.disable()
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
    console.log([
      format.padEnd(6),
      `${mib((await stat(source)).size).padStart(7)} MiB in`,
      `${mib((await stat(out)).size).padStart(7)} MiB out`,
      `${audio.frames} frames`,
      `${elapsed.toFixed(2)} s (${(audio.frames / audio.sampleRate / elapsed).toFixed(0)}x real time)`,
      `RSS +${mib(peak - baseline)} MiB (peak ${mib(peak)} MiB)`,
      `event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
      `(encoded by ffmpeg in ${encoded.toFixed(1)} s)`
    ].join('  '))
    await rm(out)
    await rm(source)
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
