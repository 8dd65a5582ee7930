import { Type, type Static } from 'typebox'

const Time = (description: string, example: string) => Type.String({ format: 'date-time', description, examples: [example] })

export const HistoryQuerySchema = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (RFC 3339, any offset; default: 30 days before `to`)', examples: ['2026-11-01T00:00:00Z'] })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End, exclusive (default: now)', examples: ['2026-12-01T00:00:00Z'] })),
  bucket: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { description: 'Hours or UTC days (default `day`)', examples: ['hour'] })),
  life: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: '0 (default): the track as it is; 1: its life before its last reset (or before the file was replaced), and so on', examples: [1] }))
}, { additionalProperties: false })
export type HistoryQuery = Static<typeof HistoryQuerySchema>

export const HistoryPointSchema = Type.Object({
  t: Time('Start of the bucket (UTC)', '2026-12-01T00:00:00.000Z'),
  plays: Type.Integer({ minimum: 0, description: 'Segment plays recorded in the bucket', examples: [5120] }),
  listens: Type.Integer({ minimum: 0, description: 'Listens (streams `total_streams` counts) in the bucket', examples: [41] }),
  listeners: Type.Integer({ minimum: 0, description: 'Distinct listeners in the bucket (a listener is counted once per UTC day and track; see the privacy section of the README)', examples: [17] }),
  overall_degradation: Type.Union([Type.Number({ minimum: 0, maximum: 100 }), Type.Null()], { description: 'Percent of the track silenced at the end of the bucket (null before its first recorded play)', examples: [12.5] })
}, { additionalProperties: false })

export const HistorySchema = Type.Array(HistoryPointSchema, {
  $id: 'TrackHistory',
  title: 'TrackHistory',
  description: 'A track\'s plays, listens, listeners and degradation over time, by whole buckets (the first and last included whole where the period starts or ends within them); buckets with nothing recorded are left out',
  examples: [historyExample()]
})

const Count = (description: string, example: number) => Type.Integer({ minimum: 0, description, examples: [example] })

export const AnalyticsQuerySchema = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (default: 30 days before `to`)', examples: ['2026-11-01T00:00:00Z'] })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End, exclusive (default: now)', examples: ['2026-12-01T00:00:00Z'] })),
  top: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'How many top tracks (default 10)', examples: [10] }))
}, { additionalProperties: false })
export type AnalyticsQuery = Static<typeof AnalyticsQuerySchema>

export const AnalyticsSchema = Type.Object({
  from: Time('Start of the period', '2026-11-01T00:00:00.000Z'),
  to: Time('End of the period (exclusive)', '2026-12-01T00:00:00.000Z'),
  totals: Type.Object({
    plays: Count('Segment plays', 250000),
    listens: Count('Listens', 3100),
    tracks: Count('Tracks played or listened to', 12)
  }, { additionalProperties: false }),
  top_tracks: Type.Array(Type.Object({
    filename: Type.String({ examples: ['ephemeral-demo.wav'] }),
    started_at: Time('When this life of the track began (its first recorded event; adoption for a Flask track)', '2026-11-02T10:00:00.000Z'),
    before_plays: Count('Plays it had before its history began (a Flask track\'s earlier plays)', 0),
    plays: Count('Segment plays in the period', 51200),
    listens: Count('Listens in the period', 410)
  }, { additionalProperties: false }), { description: 'Most played first; a reset track\'s earlier life is a separate entry' }),
  days: Type.Array(Type.Object({
    day: Time('The UTC day', '2026-11-30T00:00:00.000Z'),
    plays: Count('Segment plays', 8000),
    listens: Count('Listens', 95),
    listeners: Count('Distinct listeners across the library that day', 40)
  }, { additionalProperties: false }), { description: 'Whole UTC days, the first and last included whole even where the period starts or ends within them (listeners are counted per day); `totals` are exact to the hour' }),
  countries: Type.Array(Type.Object({
    country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2', examples: ['GB'] }),
    listens: Count('Listens from it', 80)
  }, { additionalProperties: false }), { description: 'Listens by country, most first; listens of unknown origin are not listed' }),
  clock: Type.Array(Type.Object({
    weekday: Type.Integer({ minimum: 0, maximum: 6, description: 'UTC weekday, 0 = Sunday', examples: [5] }),
    hour: Type.Integer({ minimum: 0, maximum: 23, description: 'UTC hour', examples: [21] }),
    plays: Count('Segment plays', 900),
    listens: Count('Listens', 12)
  }, { additionalProperties: false }), { description: 'The hours of the week when people listen (only hours with activity)' })
}, {
  $id: 'LibraryAnalytics',
  title: 'LibraryAnalytics',
  description: 'How the library was listened to in a period',
  additionalProperties: false,
  examples: [analyticsExample()]
})

export function historyExample () {
  return [
    { t: '2026-11-30T00:00:00.000Z', plays: 3100, listens: 32, listeners: 14, overall_degradation: 8.2 },
    { t: '2026-12-01T00:00:00.000Z', plays: 5120, listens: 41, listeners: 17, overall_degradation: 12.5 }
  ]
}

export function analyticsExample () {
  return {
    from: '2026-11-01T00:00:00.000Z',
    to: '2026-12-01T00:00:00.000Z',
    totals: { plays: 250000, listens: 3100, tracks: 12 },
    top_tracks: [{ filename: 'ephemeral-demo.wav', started_at: '2026-11-02T10:00:00.000Z', before_plays: 0, plays: 51200, listens: 410 }],
    days: [{ day: '2026-11-30T00:00:00.000Z', plays: 8000, listens: 95, listeners: 40 }],
    countries: [{ country: 'GB', listens: 80 }, { country: 'US', listens: 61 }],
    clock: [{ weekday: 5, hour: 21, plays: 900, listens: 12 }]
  }
}
