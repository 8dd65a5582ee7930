// Render cost of the decay engines: ms per 0.5 s stereo 44.1 kHz segment
// (22,050 frames × 2 channels plus each engine's preroll), at several wears.
// Imports the compiled modules, like the other bench scripts: npm run build first.
import { tape } from '../dist/lib/engines/tape.js'
import { fidelity } from '../dist/lib/engines/fidelity.js'
import { noise } from '../dist/lib/engines/noise.js'

const SAMPLE_RATE = 44100
const FRAMES = 22050
const CHANNELS = 2
const WEARS = [0.1, 0.5, 0.85]
const WARMUP = 200
const RUNS = 1000

/** A loud-ish chord and noise: the engines' cost does not depend on the music, only on its length. */
function pristine (frames) {
  return Array.from({ length: CHANNELS }, (_, c) => Float64Array.from({ length: frames }, (_, i) =>
    0.3 * Math.sin(2 * Math.PI * (220 + 30 * c) * i / SAMPLE_RATE) + 0.05 * Math.sin(i * 1.7)))
}

for (const engine of [tape, fidelity, noise]) {
  const preroll = engine.preroll(SAMPLE_RATE, engine.defaults)
  const channels = pristine(preroll + FRAMES)
  const out = Array.from({ length: CHANNELS }, () => new Float64Array(FRAMES))
  const figures = []
  for (const wear of WEARS) {
    const input = { channels, preroll, start: SAMPLE_RATE * 10, length: FRAMES, sampleRate: SAMPLE_RATE, seed: 0x5eed, wear }
    for (let i = 0; i < WARMUP; i++) engine.render(input, engine.defaults, out)
    const began = process.hrtime.bigint()
    for (let i = 0; i < RUNS; i++) engine.render(input, engine.defaults, out)
    const ms = Number(process.hrtime.bigint() - began) / 1e6 / RUNS
    figures.push(`wear ${wear}: ${ms.toFixed(3)} ms`)
  }
  console.log(`${engine.id.padEnd(8)} preroll ${String(preroll).padStart(4)} frames  ${figures.join('  ')}`)
}
