import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { decodeToWav } from '../../../lib/decode/index.js'
import { bestAlignment, decodeFile, dribble, ffmpeg, ffmpegFrames, firstChannel, makeSignal, wavOf } from './fixtures.js'

const dir = t.testdir({})
const at = (name: string) => join(dir, name)

await Promise.all([
  makeSignal(at('s44.wav'), { rate: 44100, seconds: 3.0007 }),
  makeSignal(at('s48.wav'), { rate: 48000, seconds: 2.5003 }),
  makeSignal(at('m48.wav'), { rate: 48000, seconds: 1.2, channels: 1 }),
  ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=400x400', '-frames:v', '1', '-f', 'image2', '-c:v', 'png', at('cover.png'))
])

interface Case {
  name: string
  /** The WAV the file was encoded from: the decoded track must have its length and match it. */
  source: string
  args: (source: string) => string[]
  format: string
  sampleRate: number
  channels: number
}

const cases: Case[] = [
  { name: 'mp3-cbr', source: 's44.wav', format: 'mp3', sampleRate: 44100, channels: 2, args: s => ['-i', s, '-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3'] },
  { name: 'mp3-vbr', source: 's44.wav', format: 'mp3', sampleRate: 44100, channels: 2, args: s => ['-i', s, '-c:a', 'libmp3lame', '-q:a', '5', '-f', 'mp3'] },
  { name: 'mp3-mono-48k', source: 'm48.wav', format: 'mp3', sampleRate: 48000, channels: 1, args: s => ['-i', s, '-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3'] },
  // Cover art in an ID3v2 tag ahead of the frames, an ID3v1 tag after them.
  {
    name: 'mp3-tagged',
    source: 's44.wav',
    format: 'mp3',
    sampleRate: 44100,
    channels: 2,
    args: s => ['-i', s, '-i', at('cover.png'), '-map', '0', '-map', '1', '-c:a', 'libmp3lame', '-b:a', '96k', '-c:v', 'copy',
      '-id3v2_version', '3', '-write_id3v1', '1', '-metadata', 'title=Tagged', '-f', 'mp3']
  },
  { name: 'vorbis', source: 's44.wav', format: 'ogg-vorbis', sampleRate: 44100, channels: 2, args: s => ['-i', s, '-c:a', 'libvorbis', '-q:a', '4', '-f', 'ogg'] },
  { name: 'vorbis-mono', source: 'm48.wav', format: 'ogg-vorbis', sampleRate: 48000, channels: 1, args: s => ['-i', s, '-c:a', 'libvorbis', '-f', 'ogg'] },
  { name: 'opus', source: 's48.wav', format: 'ogg-opus', sampleRate: 48000, channels: 2, args: s => ['-i', s, '-c:a', 'libopus', '-b:a', '96k', '-f', 'ogg'] },
  { name: 'opus-mono', source: 'm48.wav', format: 'ogg-opus', sampleRate: 48000, channels: 1, args: s => ['-i', s, '-c:a', 'libopus', '-f', 'ogg'] }
]

await Promise.all(cases.map(async c => await ffmpeg(...c.args(at(c.source)), at(c.name))))

t.test('lossy formats decode gapless to 16-bit PCM: the source\'s length, aligned with it', async t => {
  for (const c of cases) {
    const out = at(`${c.name}.out.wav`)
    const audio = await decodeFile(at(c.name), out)
    const source = await wavOf(at(c.source))
    t.match(audio, { format: c.format, sampleRate: c.sampleRate, channels: c.channels, bitsPerSample: 16, encoding: 'int' }, c.name)
    // The source's length (sox's count, and what ffmpeg decodes these files to): no encoder delay, no padding.
    t.equal(audio.frames, source.layout.frames, `${c.name}: exactly the ${source.layout.frames} frames encoded`)
    const stored = await wavOf(out)
    t.equal(stored.layout.frames, audio.frames, `${c.name}: the stored file says so`)
    const { lag, correlation } = bestAlignment(firstChannel(source.data, c.channels), firstChannel(stored.data, c.channels))
    t.equal(lag, 0, `${c.name}: no shift against the source`)
    t.ok(correlation > 0.9, `${c.name}: correlates with the source (${correlation.toFixed(4)})`)
  }
})

t.test('bytes arriving a few at a time decode the same', async t => {
  for (const name of ['mp3-vbr', 'mp3-tagged', 'vorbis', 'opus-mono']) {
    const out = at(`${name}.dribbled.wav`)
    await decodeToWav(dribble(await readFile(at(name))), out, { maxBytes: 1 << 30 })
    t.ok((await wavOf(out)).data.equals((await wavOf(at(`${name}.out.wav`))).data), name)
  }
})

t.test('ffmpeg, decoding the same files, agrees on their length', async t => {
  const checked = [['mp3-vbr', 2], ['opus-mono', 1]] as const
  const lengths = await Promise.all(checked.map(async ([name, channels]) => await ffmpegFrames(at(name), channels)))
  for (const [i, [name]] of checked.entries()) t.equal((await wavOf(at(`${name}.out.wav`))).layout.frames, lengths[i], name)
})
