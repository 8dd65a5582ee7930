/**
 * A generated demo piece, so the service has something to play (and to wear
 * out) without shipping anyone's recording: a slow I–vi–IV–V in D major with
 * soft detuned pads, a bass, and a plucked arpeggio, at 80 bpm.
 *
 * Every sample is a pure function of its frame number, so the track can be
 * rendered block by block and comes out byte-identical on every run.
 */
import { randomBytes } from 'node:crypto'
import { rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fsyncDir } from './atomic-file.js'
import type { WavFormat } from './wav-format.js'
import { writeWavFile } from './wav-writer.js'

export interface DemoTrackOptions {
  seconds?: number
  sampleRate?: number
}

const BLOCK_FRAMES = 4096
const CHORD_SECONDS = 3 // four beats at 80 bpm
const PLUCK_SECONDS = CHORD_SECONDS / 8 // eighth notes

/** I, vi, IV, V: a bass note, a close pad voicing and four arpeggio tones (MIDI). */
const CHORDS = [
  { bass: 38, pad: [57, 62, 66], arp: [74, 78, 81, 86] },
  { bass: 35, pad: [54, 59, 62], arp: [71, 74, 78, 83] },
  { bass: 43, pad: [55, 59, 62], arp: [71, 74, 79, 83] },
  { bass: 45, pad: [57, 61, 64], arp: [73, 76, 81, 85] }
]
const ARP_PATTERN = [0, 1, 2, 3, 2, 3, 1, 2]

const PAD_ATTACK = 1
const PAD_RELEASE = 1.2
const PAD_DETUNE = 2 ** (6 / 1200) // ±6 cents: slow beating, a chorus for free
const PLUCK_LIFE = 1.5
const PLUCK_TAIL = 0.25

/** Mix levels, tuned so the loudest moments peak near −3 dBFS. */
const PAD_LEVEL = 0.05
const BASS_LEVEL = 0.16
const PLUCK_LEVEL = 0.15
const MASTER = 1.58
/** Above the knee a soft limiter bends the waveform towards the ceiling, so no sample ever clips. */
const KNEE = 0.6
const CEILING = 0.98

const TWO_PI = 2 * Math.PI

function hz (midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12)
}

/** Equal-power placement, precomputed: pan 0 is hard left, 1 hard right. */
function pan (position: number) {
  return { left: Math.cos(position * Math.PI / 2), right: Math.sin(position * Math.PI / 2) }
}

/** 0 → 1 over `length` seconds along half a cosine: no corners, no clicks. */
function rise (x: number, length: number): number {
  if (x <= 0) return 0
  if (x >= length) return 1
  return 0.5 - 0.5 * Math.cos(Math.PI * x / length)
}

function limit (x: number): number {
  const size = Math.abs(x)
  if (size <= KNEE) return x
  return Math.sign(x) * (KNEE + (CEILING - KNEE) * Math.tanh((size - KNEE) / (CEILING - KNEE)))
}

// Each pad voice's two detuned copies sit on opposite sides, so the pad is wide.
const VOICINGS = CHORDS.map(chord => ({
  pads: chord.pad.map((note, voice) => ({
    low: TWO_PI * hz(note) / PAD_DETUNE,
    high: TWO_PI * hz(note) * PAD_DETUNE,
    phase: voice,
    lowSide: pan(0.3 - 0.1 * voice),
    highSide: pan(0.7 + 0.1 * voice)
  })),
  bass: TWO_PI * hz(chord.bass),
  plucks: ARP_PATTERN.map(step => TWO_PI * hz(chord.arp[step] as number))
}))
type Voicing = (typeof VOICINGS)[number]
const PLUCK_SIDES = ARP_PATTERN.map((_, step) => pan(0.5 + 0.3 * Math.sin(step * 0.9)))
const CENTRE = pan(0.5)

interface Stereo { left: number, right: number }

function addChord (out: Stereo, index: number, t: number): void {
  const age = t - index * CHORD_SECONDS
  const voicing = VOICINGS[index % VOICINGS.length] as Voicing
  const padEnv = PAD_LEVEL * rise(age, PAD_ATTACK) * (1 - rise(age - CHORD_SECONDS, PAD_RELEASE))
  for (const voice of voicing.pads) {
    const low = padEnv * Math.sin(voice.low * t + voice.phase)
    const high = padEnv * Math.sin(voice.high * t)
    out.left += low * voice.lowSide.left + high * voice.highSide.left
    out.right += low * voice.lowSide.right + high * voice.highSide.right
  }
  const w = voicing.bass
  const bassEnv = BASS_LEVEL * rise(age, 0.05) * Math.exp(-age / 2.5) * (1 - rise(age - CHORD_SECONDS, 0.3))
  const bass = bassEnv * (Math.sin(w * age) + 0.25 * Math.sin(2 * w * age))
  out.left += bass * CENTRE.left
  out.right += bass * CENTRE.right
}

function addPluck (out: Stereo, index: number, t: number): void {
  const age = t - index * PLUCK_SECONDS
  const step = index % ARP_PATTERN.length
  const voicing = VOICINGS[Math.floor(index / ARP_PATTERN.length) % VOICINGS.length] as Voicing
  const w = voicing.plucks[step] as number
  const env = PLUCK_LEVEL * (1 - Math.exp(-age / 0.004)) * Math.exp(-age / 0.45) * (1 - rise(age - (PLUCK_LIFE - PLUCK_TAIL), PLUCK_TAIL))
  const tone = env * (Math.sin(w * age) + 0.3 * Math.exp(-age / 0.15) * Math.sin(2 * w * age))
  const side = PLUCK_SIDES[step] as Stereo
  out.left += tone * side.left
  out.right += tone * side.right
}

function renderFrame (out: Stereo, frame: number, sampleRate: number, frames: number): void {
  const t = frame / sampleRate
  out.left = 0
  out.right = 0
  const chord = Math.floor(t / CHORD_SECONDS)
  addChord(out, chord, t)
  if (chord > 0) addChord(out, chord - 1, t)
  const pluck = Math.floor(t / PLUCK_SECONDS)
  // Older plucks have faded out completely by the end of PLUCK_LIFE.
  for (let k = pluck; k >= 0 && k > pluck - PLUCK_LIFE / PLUCK_SECONDS; k--) addPluck(out, k, t)

  const seconds = frames / sampleRate
  const fade = rise(t, Math.min(2, seconds / 4)) * rise(seconds - t, Math.min(3, seconds / 4))
  out.left = limit(MASTER * fade * out.left)
  out.right = limit(MASTER * fade * out.right)
}

function * blocks (frames: number, format: WavFormat): Generator<Buffer> {
  const out: Stereo = { left: 0, right: 0 }
  for (let first = 0; first < frames; first += BLOCK_FRAMES) {
    const count = Math.min(BLOCK_FRAMES, frames - first)
    const block = Buffer.alloc(count * format.blockAlign)
    for (let i = 0; i < count; i++) {
      renderFrame(out, first + i, format.sampleRate, frames)
      block.writeInt16LE(Math.round(out.left * 32767), i * 4)
      block.writeInt16LE(Math.round(out.right * 32767), i * 4 + 2)
    }
    yield block
  }
}

/** Writes the demo piece as 16-bit stereo PCM; the file appears whole or not at all. */
export async function writeDemoTrack (path: string, options: DemoTrackOptions = {}): Promise<{ frames: number, format: WavFormat }> {
  const seconds = options.seconds ?? 24
  const sampleRate = options.sampleRate ?? 44100
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new RangeError(`writeDemoTrack: seconds must be positive, got ${seconds}`)
  if (!Number.isSafeInteger(sampleRate) || sampleRate < 8000) throw new RangeError(`writeDemoTrack: sampleRate must be an integer of at least 8000, got ${sampleRate}`)
  const frames = Math.max(1, Math.round(seconds * sampleRate))
  const format: WavFormat = { encoding: 'int', bitsPerSample: 16, channels: 2, sampleRate, blockAlign: 4 }

  // Named like atomic-file.ts's temporaries, so removeStaleTempFiles sweeps up after a crash.
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    await writeWavFile(temporary, format, frames * format.blockAlign, blocks(frames, format))
    await rename(temporary, path)
    await fsyncDir(dirname(path))
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
  return { frames, format }
}
