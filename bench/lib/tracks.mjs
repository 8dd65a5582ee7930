// Bench tracks: 16-bit stereo 44.1 kHz WAV files written through the service's
// own writer (compiled), one repeated block at a time, never whole in memory.
import { copyFile } from 'node:fs/promises'
import { writeWavFile } from '../../dist/lib/wav-writer.js'

export const FORMAT = { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate: 44100, blockAlign: 4 }
export const BYTES_PER_SECOND = FORMAT.sampleRate * FORMAT.blockAlign

// One second of a two-tone chord: whole periods of 220 and 330 Hz, so repeating it is seamless.
function oneSecond () {
  const block = Buffer.alloc(BYTES_PER_SECOND)
  for (let i = 0; i < FORMAT.sampleRate; i++) {
    const t = i / FORMAT.sampleRate
    block.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 220 * t)), i * 4)
    block.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 330 * t)), i * 4 + 2)
  }
  return block
}

function * blocks (dataBytes) {
  const second = oneSecond()
  // Eight seconds per write: few syscalls, little memory.
  const big = Buffer.concat(Array.from({ length: 8 }, () => second))
  for (let left = dataBytes; left > 0; left -= big.length) yield left >= big.length ? big : big.subarray(0, left)
}

/** A track of `seconds` seconds, or of about `bytes` bytes of frames. */
export async function writeTrack (path, { seconds, bytes }) {
  const frames = seconds !== undefined ? Math.round(seconds * FORMAT.sampleRate) : Math.floor(bytes / FORMAT.blockAlign)
  const dataBytes = frames * FORMAT.blockAlign
  await writeWavFile(path, FORMAT, dataBytes, blocks(dataBytes))
  return { path, size: dataBytes + 44, seconds: frames / FORMAT.sampleRate }
}

/** `count` copies of one short track, named track-0000.wav and so on. */
export async function writeManyTracks (dir, count, seconds) {
  const first = `${dir}/track-0000.wav`
  await writeTrack(first, { seconds })
  for (let i = 1; i < count; i++) await copyFile(first, `${dir}/track-${String(i).padStart(4, '0')}.wav`)
}
