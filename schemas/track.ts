import { Type, type Static } from 'typebox'

export const FilenameParams = Type.Object({
  filename: Type.String({
    minLength: 5,
    maxLength: 200,
    pattern: '^[^/\\\\\\x00]+\\.[wW][aA][vV]$',
    description: 'A WAV file directly inside AUDIO_DIR, e.g. `ephemeral-demo.wav`: 5 to 200 characters (at most 200 bytes) ending in `.wav` (any case), with no `/`, `\\` or NUL. Anything else is a 400.',
    examples: ['ephemeral-demo.wav']
  })
})
export type FilenameParamsType = Static<typeof FilenameParams>

export const TrackChangeSchema = Type.Object({
  title: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The title players show; the file name stays the track\'s name', examples: ['Ephemeral demo (first take)'] })),
  engine: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'A decay engine id from `GET /engines`: the track decays that way from now on, its counts kept', examples: ['tape'] })),
  engine_params: Type.Optional(Type.Record(Type.String(), Type.Number(), { description: 'The engine\'s parameters; those not given take their defaults', examples: [{ cutoff_hz: 400 }] }))
}, { $id: 'TrackChange', title: 'TrackChange', description: 'A new display title, a new decay engine, or both.', additionalProperties: false, minProperties: 1, examples: [{ title: 'Ephemeral demo (first take)', engine: 'tape' }] })

const engineFields = {
  engine: Type.String({ description: 'How the track decays: an id from `GET /engines`', examples: ['dropout'] }),
  engine_params: Type.Record(Type.String(), Type.Number(), { description: 'The engine\'s parameters, defaults filled in', examples: [{}] })
}

const formatFields = {
  sample_rate: Type.Integer({ description: 'Frames per second', examples: [44100] }),
  channels: Type.Integer({ minimum: 1, examples: [2] }),
  bits_per_sample: Type.Integer({ examples: [16] }),
  sample_format: Type.Union([Type.Literal('int'), Type.Literal('float')], { description: 'Integer PCM or IEEE float' })
}

export const TrackSchema = Type.Object({
  filename: Type.String({ examples: ['ephemeral-demo.wav'] }),
  title: Type.String({ description: 'The file name without its extension', examples: ['ephemeral-demo'] }),
  duration: Type.Number({ description: 'Seconds', examples: [24] }),
  overall_degradation: Type.Number({ minimum: 0, maximum: 100, description: 'Mean over segments of the percent of each segment that is silenced', examples: [1.5] }),
  total_streams: Type.Integer({ minimum: 0, description: 'Listens started from the beginning of the file', examples: [3] }),
  total_segments: Type.Integer({ minimum: 0, examples: [48] }),
  total_plays: Type.Integer({ minimum: 0, description: 'Segment plays recorded, all segments together', examples: [72] }),
  ...engineFields,
  ...formatFields
}, { $id: 'Track', title: 'Track', additionalProperties: false })
export type Track = Static<typeof TrackSchema>

export const TrackListSchema = Type.Array(Type.Ref('Track'), { $id: 'TrackList', title: 'TrackList' })

export const TrackStatsSchema = Type.Object({
  filename: Type.String({ examples: ['ephemeral-demo.wav'] }),
  title: Type.String({ examples: ['ephemeral-demo'] }),
  duration: Type.Number({ examples: [24] }),
  total_segments: Type.Integer({ minimum: 0, examples: [48] }),
  segment_duration: Type.Number({ description: 'Seconds per segment', examples: [0.5] }),
  segment_play_counts: Type.Array(Type.Integer({ minimum: 0 }), { description: 'Plays of each segment', examples: [[3, 1, 0]] }),
  segment_degradation: Type.Array(Type.Number({ minimum: 0, maximum: 100 }), { description: 'Percent of each segment that is silenced', examples: [[3, 1, 0]] }),
  overall_degradation: Type.Number({ minimum: 0, maximum: 100, examples: [1.33] }),
  total_streams: Type.Integer({ minimum: 0, examples: [3] }),
  total_plays: Type.Integer({ minimum: 0, examples: [4] }),
  degradation_rate: Type.Number({ description: 'Percent of a segment silenced per play', examples: [1] }),
  created_at: Type.String({ description: 'When the service first saw the track, ISO 8601', examples: ['2026-11-28T21:00:00.000Z'] }),
  ...engineFields,
  ...formatFields
}, { $id: 'TrackStats', title: 'TrackStats', additionalProperties: false })
export type TrackStats = Static<typeof TrackStatsSchema>

export const ServiceInfoSchema = Type.Object({
  status: Type.Literal('running'),
  service: Type.Literal('Ephemeral Audio Decay System'),
  degradation_rate: Type.Number({ description: 'Percent of a segment silenced per play', examples: [1] }),
  segment_duration: Type.Number({ examples: [0.5] }),
  version: Type.String({ examples: ['2.0.0'] }),
  tracks: Type.Integer({ minimum: 0, description: 'Playable tracks, ready to serve', examples: [1] }),
  tracks_preparing: Type.Integer({ minimum: 0, description: 'Files found in AUDIO_DIR still being prepared (pristine copy, metadata) in the background; each is served as soon as it is ready, or at once when asked for', examples: [0] }),
  tracks_excluded: Type.Array(Type.Object({
    filename: Type.String({ examples: ['broken.wav'] }),
    reason: Type.String({ examples: ['not a playable WAV: no fmt chunk'] })
  }, { additionalProperties: false }), { description: 'Files in AUDIO_DIR that are not served, and why (unplayable, a link, a name that differs only in case, a disk problem)' })
}, { $id: 'ServiceInfo', title: 'ServiceInfo', additionalProperties: false })
export type ServiceInfo = Static<typeof ServiceInfoSchema>

// Examples for the OpenAPI document, typed so they cannot drift from the schemas.

export const serviceInfoExample: ServiceInfo = {
  status: 'running', service: 'Ephemeral Audio Decay System', degradation_rate: 1, segment_duration: 0.5, version: '2.0.0', tracks: 1, tracks_preparing: 0, tracks_excluded: []
}

export const trackExample: Track = {
  filename: 'ephemeral-demo.wav',
  title: 'ephemeral-demo',
  duration: 24,
  overall_degradation: 1.5,
  total_streams: 3,
  total_segments: 48,
  total_plays: 72,
  engine: 'dropout',
  engine_params: {},
  sample_rate: 44100,
  channels: 2,
  bits_per_sample: 16,
  sample_format: 'int'
}

export const trackStatsExample: TrackStats = {
  filename: 'short.wav',
  title: 'short',
  duration: 2,
  total_segments: 4,
  segment_duration: 0.5,
  segment_play_counts: [3, 1, 0, 0],
  segment_degradation: [3, 1, 0, 0],
  overall_degradation: 1,
  total_streams: 1,
  total_plays: 4,
  degradation_rate: 1,
  created_at: '2026-11-28T21:00:00.000Z',
  engine: 'dropout',
  engine_params: {},
  sample_rate: 44100,
  channels: 2,
  bits_per_sample: 16,
  sample_format: 'int'
}
