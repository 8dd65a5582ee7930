import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { segmentSpan, type WavLayout } from '../lib/wav-format.js'
import { renderSegment } from '../lib/render.js'
import { testFrames, type TestWav } from './fixtures/wav-fixtures.js'
import type { TrackMetadata } from '../lib/track-metadata.js'

/** The layout a test WAV fixture has, as the service sees it. */
export function layoutOf (wav: TestWav): WavLayout {
  return { format: wav.format, dataOffset: wav.dataOffset, frames: wav.frames, dataSize: wav.frames * wav.format.blockAlign, fileSize: wav.fileSize }
}

/** The bytes of segment `index` as they are on disk now. */
export async function readSegment (wav: TestWav, index: number, segmentDuration = 0.5): Promise<Buffer> {
  const span = segmentSpan(layoutOf(wav), segmentDuration, index)
  const file = await open(wav.path, 'r')
  try {
    const buf = Buffer.alloc(span.byteLength)
    await file.read(buf, 0, span.byteLength, span.byteOffset)
    return buf
  } finally {
    await file.close()
  }
}

export async function readMetadata (metadataDir: string, filename: string): Promise<TrackMetadata> {
  return JSON.parse(await readFile(join(metadataDir, filename.replace(/\.wav$/i, '.json')), 'utf8')) as TrackMetadata
}

/** What segment `index` must hold after `plays` plays: the model applied to the fixture's original frames. */
export function expectedSegment (wav: TestWav, meta: TrackMetadata, index: number, plays: number, ratePercent: number): Buffer {
  const span = segmentSpan(layoutOf(wav), meta.segment_duration, index)
  return renderSegment(testFrames(wav.format, span.firstFrame, span.frameCount), wav.format, {
    seed: meta.track_id, segmentIndex: index, plays, baselinePlays: 0, ratePercent
  })
}
