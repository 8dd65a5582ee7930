import { lstat } from 'node:fs/promises'
import { playsForSilencedFrames } from '../../lib/dropout.js'
import { newlySilentFrameCount } from '../../lib/pcm.js'
import { segmentSpan, type WavLayout } from '../../lib/wav-format.js'
import type { WavIo } from './wav-io.js'

/**
 * Play counts read back from the audio itself, for a track whose metadata was
 * lost: each segment's frames that are silent now but were not in the
 * pristine copy give the fewest plays that explain them. Undefined when there
 * is no usable pristine copy to compare with. One segment in memory at a time.
 */
export async function recountFromAudio (
  wav: WavIo, paths: { audio: string, pristine: string }, layout: WavLayout, segmentDuration: number, segments: number, ratePercent: number
): Promise<number[] | undefined> {
  const pristineSize = await lstat(paths.pristine).then(s => s.size, () => undefined)
  if (pristineSize !== layout.fileSize) return undefined
  const [audio, pristine] = await Promise.all([wav.openForRead(paths.audio), wav.openForRead(paths.pristine)])
  try {
    const counts: number[] = []
    for (let index = 0; index < segments; index++) {
      const span = segmentSpan(layout, segmentDuration, index)
      const [now, before] = await Promise.all([
        wav.readSpan(audio, span.byteOffset, span.byteLength),
        wav.readSpan(pristine, span.byteOffset, span.byteLength)
      ])
      counts.push(playsForSilencedFrames(newlySilentFrameCount(now, before, layout.format), span.frameCount, ratePercent))
    }
    return counts
  } finally {
    await Promise.all([audio.close(), pristine.close()])
  }
}
