/**
 * The shape of a playable WAV file, as the rest of the service sees it.
 * Produced by `readWavLayout` (riff.ts); consumed by the codecs (pcm.ts),
 * the writer (wav-writer.ts) and the segment arithmetic below.
 */

/** How one sample is stored: little-endian integer PCM or IEEE float. */
export type SampleEncoding = 'int' | 'float'

export interface WavFormat {
  encoding: SampleEncoding
  /** 8 (unsigned), 16, 24, 32 for 'int'; 32 or 64 for 'float'. */
  bitsPerSample: number
  channels: number
  sampleRate: number
  /** Bytes per frame: channels × bitsPerSample / 8. */
  blockAlign: number
}

export interface WavLayout {
  format: WavFormat
  /** Absolute byte offset of the first frame (the byte after the `data` chunk header). */
  dataOffset: number
  /** Bytes of whole frames in the data chunk, clipped to the file's real size. */
  dataSize: number
  /** Whole frames in the data chunk: dataSize / blockAlign. */
  frames: number
  /** Size of the whole file in bytes. */
  fileSize: number
}

/** Frames per segment: floor(segmentDuration × sampleRate), at least 1. */
export function framesPerSegment (format: WavFormat, segmentDuration: number): number {
  return Math.max(1, Math.floor(segmentDuration * format.sampleRate))
}

/** Segment k covers frames [k·F, min((k+1)·F, frames)); the last one may be short. */
export function segmentCount (layout: WavLayout, segmentDuration: number): number {
  return Math.ceil(layout.frames / framesPerSegment(layout.format, segmentDuration))
}

/** The frame span and absolute byte span of segment `index`. */
export function segmentSpan (layout: WavLayout, segmentDuration: number, index: number) {
  const perSegment = framesPerSegment(layout.format, segmentDuration)
  const firstFrame = index * perSegment
  const frameCount = Math.max(0, Math.min(perSegment, layout.frames - firstFrame))
  return {
    firstFrame,
    frameCount,
    byteOffset: layout.dataOffset + firstFrame * layout.format.blockAlign,
    byteLength: frameCount * layout.format.blockAlign
  }
}

export function durationSeconds (layout: WavLayout): number {
  return layout.frames / layout.format.sampleRate
}
