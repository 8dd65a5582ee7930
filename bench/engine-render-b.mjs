// node bench/engine-render-b.mjs: milliseconds to render one 0.5 s stereo
// segment at 44.1 kHz (22,050 frames × 2 channels, plus each engine's preroll)
// with the wow and dissolve engines, straight from their TypeScript sources
// (Node 24 strips the types). The budget is 2 ms per segment per engine.
import { registerHooks } from 'node:module'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

// The sources import each other as './engine.js' (NodeNext style for tsc): point those at the .ts files.
registerHooks({
  resolve (specifier, context, next) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      const js = new URL(specifier, context.parentURL)
      const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL)
      if (!existsSync(fileURLToPath(js)) && existsSync(fileURLToPath(ts))) return next(ts.href, context)
    }
    return next(specifier, context)
  }
})

const { values: args } = parseArgs({
  options: {
    segments: { type: 'string', default: '200' },
    wear: { type: 'string', default: '0.5' }
  }
})
const { wow } = await import('../lib/engines/wow.ts')
const { dissolve } = await import('../lib/engines/dissolve.ts')
const { noiseAt } = await import('../lib/engines/engine.ts')

const SAMPLE_RATE = 44100
const FRAMES = 22050
const SEGMENTS = Number(args.segments)
const WEAR = Number(args.wear)
const SEED = 0x5eed

/** Pristine planes for segment `index`: noise and a tone, its preroll included. */
function pristine (index, preroll) {
  const start = (index + 1) * FRAMES
  return [0, 1].map(c => {
    const plane = new Float64Array(preroll + FRAMES)
    for (let i = 0; i < plane.length; i++) {
      const p = start - preroll + i
      plane[i] = 0.3 * Math.sin(2 * Math.PI * (c === 0 ? 220 : 247) * p / SAMPLE_RATE) + 0.1 * noiseAt(1, c, p)
    }
    return { start, plane }
  })
}

function bench (engine) {
  const params = engine.defaults
  const preroll = engine.preroll(SAMPLE_RATE, params)
  const inputs = Array.from({ length: 8 }, (_, k) => pristine(k, preroll))
  const out = [new Float64Array(FRAMES), new Float64Array(FRAMES)]
  const renderOne = k => {
    const input = inputs[k % inputs.length]
    engine.render({ channels: input.map(i => i.plane), preroll, start: input[0].start, length: FRAMES, sampleRate: SAMPLE_RATE, seed: SEED, wear: WEAR }, params, out)
  }
  const cold = performance.now()
  renderOne(0)
  const first = performance.now() - cold
  for (let k = 0; k < 50; k++) renderOne(k)
  const times = []
  for (let k = 0; k < SEGMENTS; k++) {
    const t0 = performance.now()
    renderOne(k)
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  const median = times[Math.floor(times.length / 2)]
  console.log(`${engine.id.padEnd(9)} preroll ${String(preroll).padStart(6)} frames  first ${first.toFixed(2)} ms  mean ${mean.toFixed(3)} ms  median ${median.toFixed(3)} ms  min ${times[0].toFixed(3)} ms per segment`)
}

console.log(`0.5 s stereo segments at ${SAMPLE_RATE} Hz, wear ${WEAR}, ${SEGMENTS} timed after 50 warm-up; node ${process.version}`)
bench(wow)
bench(dissolve)
