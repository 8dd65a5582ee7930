// npm run samples: hear every decay engine. Renders a few seconds of the demo
// track by each engine at 0, 25, 50 and 75 % wear into samples/ (not
// committed: run it to listen), as the service would render them.
// Imports the compiled modules: npm run build first (the npm script does).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeDemoTrack } from '../dist/lib/demo-track.js'
import { seedOf } from '../dist/lib/engines/engine.js'
import { ENGINE_INFOS, ENGINES } from '../dist/lib/engines/index.js'
import { renderFrames } from '../dist/lib/engines/segment.js'
import { renderSegment } from '../dist/lib/render.js'
import { wavHeader } from '../dist/lib/wav-writer.js'

const SECONDS = 6
const SEGMENT_SECONDS = 0.5
const WEARS = [0, 0.25, 0.5, 0.75]
const RATE = 1 // DEGRADATION_RATE: wear w is 100·w plays
const out = fileURLToPath(new URL('../samples/', import.meta.url))

const scratch = await mkdtemp(join(tmpdir(), 'ephemeral-samples-'))
try {
  const { format, frames } = await writeDemoTrack(join(scratch, 'demo.wav'), { seconds: SECONDS })
  const bytes = await readFile(join(scratch, 'demo.wav'))
  const pristine = bytes.subarray(bytes.length - frames * format.blockAlign)
  const framesPerSegment = Math.floor(SEGMENT_SECONDS * format.sampleRate)
  await mkdir(out, { recursive: true })
  for (const info of ENGINE_INFOS) {
    for (const wear of WEARS) {
      const plays = Math.round(wear * 100 / RATE)
      let data
      const engine = ENGINES.get(info.id)
      if (engine === undefined) {
        // dropout renders on the bytes, segment by segment.
        const parts = []
        for (let start = 0; start < frames; start += framesPerSegment) {
          const end = Math.min(frames, start + framesPerSegment)
          parts.push(renderSegment(pristine.subarray(start * format.blockAlign, end * format.blockAlign), format, { seed: 'samples', segmentIndex: start / framesPerSegment, plays, baselinePlays: 0, ratePercent: RATE }))
        }
        data = Buffer.concat(parts)
      } else {
        const track = { format, frames, framesPerSegment, seed: seedOf('samples'), engine, params: engine.defaults, wearOf: () => wear }
        data = renderFrames(track, { from: 0, to: frames, readFrom: 0 }, pristine)
      }
      const file = join(out, `${info.id}-${String(Math.round(wear * 100)).padStart(2, '0')}.wav`)
      await writeFile(file, Buffer.concat([wavHeader(format, data.length), data]))
    }
    console.log(`${info.id}: ${WEARS.map(w => `${w * 100} %`).join(', ')}`)
  }
  console.log(`\n${ENGINE_INFOS.length * WEARS.length} samples of ${SECONDS} s in ${out}`)
} finally {
  await rm(scratch, { recursive: true, force: true })
}
