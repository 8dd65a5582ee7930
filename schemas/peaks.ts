import { Type, type Static } from 'typebox'
import type { ErrorBody } from './error.js'

/** GET /peaks query. Defaults (applied by the route): 256 samples per pixel, 8 bits, mixed channels. */
export const PeaksQuery = Type.Object({
  samples_per_pixel: Type.Optional(Type.Integer({
    minimum: 2,
    maximum: 2147483647,
    description: 'Frames per pixel (audiowaveform\'s `--zoom`). Default 256. Not with `pixels_per_second`.',
    examples: [512]
  })),
  pixels_per_second: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 1000000,
    description: 'Pixels per second of audio; samples_per_pixel is sample_rate / pixels_per_second, rounded down, and must come to at least 2. Not with `samples_per_pixel`.',
    examples: [100]
  })),
  bits: Type.Optional(Type.Union([Type.Literal(8), Type.Literal(16)], { description: 'Resolution of the values: 8 (default, -128..127) or 16 (-32768..32767)' })),
  channels: Type.Optional(Type.Union([Type.Literal('mixed'), Type.Literal('split')], {
    description: '`mixed` (default): one channel, the mean of the input channels; `split`: one per input channel'
  })),
  overlay: Type.Optional(Type.Literal('degradation', {
    description: 'Wrap the waveform as `{ waveform, degradation }`, with the per-segment silenced share of the same version of the audio'
  }))
}, { additionalProperties: false })
export type PeaksQueryType = Static<typeof PeaksQuery>

/** BBC audiowaveform JSON, version 2: exactly its keys, so strict readers accept it. */
export const AudioWaveformSchema = Type.Object({
  version: Type.Literal(2),
  channels: Type.Integer({ minimum: 1, examples: [1] }),
  sample_rate: Type.Integer({ minimum: 1, examples: [44100] }),
  samples_per_pixel: Type.Integer({ minimum: 2, examples: [256] }),
  bits: Type.Union([Type.Literal(8), Type.Literal(16)]),
  length: Type.Integer({ minimum: 0, description: 'Pixels; data holds length × channels min/max pairs', examples: [3] }),
  data: Type.Array(Type.Integer({ minimum: -32768, maximum: 32767 }), {
    description: 'Pixel by pixel, and within a pixel channel by channel: min, max',
    examples: [[-65, 63, -66, 64, -40, 41]]
  })
}, {
  $id: 'AudioWaveform',
  title: 'AudioWaveform',
  description: 'Waveform peaks in the BBC audiowaveform JSON format, version 2, as peaks.js and waveform-data.js read them',
  additionalProperties: false
})
export type AudioWaveform = Static<typeof AudioWaveformSchema>

export const SegmentDegradationSchema = Type.Object({
  segment_duration: Type.Number({ description: 'Seconds per segment', examples: [0.5] }),
  segment_frames: Type.Integer({ minimum: 1, description: 'Frames per segment; the last segment may be shorter', examples: [22050] }),
  total_segments: Type.Integer({ minimum: 0, examples: [48] }),
  segment_play_counts: Type.Array(Type.Integer({ minimum: 0 }), { examples: [[3, 1, 0]] }),
  segment_degradation: Type.Array(Type.Number({ minimum: 0, maximum: 100 }), { description: 'Percent of each segment that is silenced', examples: [[3, 1, 0]] }),
  overall_degradation: Type.Number({ minimum: 0, maximum: 100, examples: [1.3333] }),
  total_plays: Type.Integer({ minimum: 0, description: 'The version of the audio the waveform was computed from', examples: [4] })
}, { $id: 'SegmentDegradation', title: 'SegmentDegradation', additionalProperties: false })
export type SegmentDegradation = Static<typeof SegmentDegradationSchema>

export const PeaksWithDegradationSchema = Type.Object({
  waveform: Type.Ref('AudioWaveform'),
  degradation: Type.Ref('SegmentDegradation')
}, {
  $id: 'PeaksWithDegradation',
  title: 'PeaksWithDegradation',
  description: 'The waveform and, beside it (never inside it), how much of each segment is silenced',
  additionalProperties: false
})

/** Real replies, for the OpenAPI document. */
export const audioWaveformExample: AudioWaveform = {
  version: 2, channels: 1, sample_rate: 44100, samples_per_pixel: 44100, bits: 8, length: 4, data: [-17, 16, -88, 91, -97, 99, -90, 86]
}

export const peaksWithDegradationExample = {
  waveform: audioWaveformExample,
  degradation: {
    segment_duration: 0.5,
    segment_frames: 22050,
    total_segments: 8,
    segment_play_counts: [3, 1, 0, 0, 2, 0, 0, 0],
    segment_degradation: [3, 1, 0, 0, 2, 0, 0, 0],
    overall_degradation: 0.75,
    total_plays: 6
  } satisfies SegmentDegradation
}

export const peaksErrorExamples = {
  bothZooms: { statusCode: 400, error: 'Bad Request', message: 'Give samples_per_pixel or pixels_per_second, not both', code: 'EA_PEAKS_ZOOM' },
  tooLarge: { statusCode: 400, error: 'Bad Request', message: 'long.wav would need more than 1048576 values at 2 samples per pixel: ask for samples_per_pixel 153 or more', code: 'EA_PEAKS_TOO_LARGE' }
} satisfies Record<string, ErrorBody>
