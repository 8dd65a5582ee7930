// npm run bench:engines: what each decay engine costs a play. Milliseconds to
// render one 0.5 s stereo 44.1 kHz 16-bit segment as the play path does
// (lib/engines/segment.ts: bytes to floats, the engine with its preroll, the
// cross-fade into the next segment, floats to bytes), at several wears, and
// the plays per second one core could render with it. Budget: 2 ms of CPU.
// Imports the compiled modules, like the other bench scripts: npm run build first.
import { ENGINES } from '../dist/lib/engines/index.js'
import { playSpan, renderFrames } from '../dist/lib/engines/segment.js'

const SAMPLE_RATE = 44100
const FRAMES_PER_SEGMENT = 22050
const SEGMENTS = 40
const WEARS = [0.1, 0.5, 0.85]
const WARMUP = 30
const RUNS = 200
const format = { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate: SAMPLE_RATE, blockAlign: 4 }

/** 20 s of a chord with noise, as 16-bit stereo bytes: the cost does not depend on the music, only on its length. */
function pristineBytes (frames) {
  const bytes = Buffer.alloc(frames * 4)
  let seed = 1
  for (let i = 0; i < frames; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0
    for (let c = 0; c < 2; c++) {
      const v = 0.3 * Math.sin(2 * Math.PI * (220 + 30 * c) * i / SAMPLE_RATE) + 0.05 * (seed / 2 ** 31 - 1)
      bytes.writeInt16LE(Math.round(v * 32767), i * 4 + c * 2)
    }
  }
  return bytes
}

const frames = FRAMES_PER_SEGMENT * SEGMENTS
const pristine = pristineBytes(frames)
const rows = []
for (const engine of ENGINES.values()) {
  const figures = []
  for (const wear of WEARS) {
    // Neighbours at another wear: every play also renders the cross-fade.
    const track = { format, frames, framesPerSegment: FRAMES_PER_SEGMENT, seed: 0x5eed, engine, params: engine.defaults, wearOf: i => (i % 2 === 0 ? wear : wear * 0.9) }
    const play = index => {
      const span = playSpan(track, index)
      return renderFrames(track, span, pristine.subarray(span.readFrom * 4, span.to * 4))
    }
    for (let i = 0; i < WARMUP; i++) play(1 + (i % (SEGMENTS - 2)))
    // CPU time rather than wall time: on a shared machine, other work then stretches the figure less.
    const began = process.cpuUsage()
    for (let i = 0; i < RUNS; i++) play(1 + (i % (SEGMENTS - 2)))
    const used = process.cpuUsage(began)
    figures.push((used.user + used.system) / 1000 / RUNS)
  }
  const worst = Math.max(...figures)
  rows.push({ engine: engine.id, preroll: engine.preroll(SAMPLE_RATE, engine.defaults), ms: figures, worst, playsPerSecondOneCore: Math.floor(1000 / worst) })
}

console.log(`ms per play of a 0.5 s stereo 44.1 kHz segment (node ${process.version}); budget 2 ms`)
console.log(['engine', 'preroll', ...WEARS.map(w => `wear ${w}`), 'plays/s/core', 'budget'].map(s => s.padEnd(12)).join(''))
for (const r of rows) {
  console.log([r.engine, String(r.preroll), ...r.ms.map(m => m.toFixed(2)), String(r.playsPerSecondOneCore), r.worst <= 2 ? 'met' : 'MISSED'].map(s => s.padEnd(12)).join(''))
}
const slowest = rows.reduce((a, b) => (b.worst > a.worst ? b : a))
console.log(`slowest: ${slowest.engine}, ${slowest.worst.toFixed(2)} ms, about ${slowest.playsPerSecondOneCore} plays/s on one core for rendering alone`)
