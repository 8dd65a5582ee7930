import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { FilenameParams } from '../schemas/track.js'
import { audioWaveformExample, PeaksQuery, peaksErrorExamples, type SegmentDegradation } from '../schemas/peaks.js'
import { errorExamples } from '../schemas/error.js'
import { errorResponse, JSON_TYPE, retryLaterHeaders } from '../schemas/responses.js'
import { TrackError } from '../lib/track-error.js'
import type { Track } from '../plugins/app/track-store.js'
import {
  audiowaveformJson, MIN_SAMPLES_PER_PIXEL, patchPeaks, peaksLength, peaksOfFile, pixelsOfSegments, samplesPerPixelFor,
  type ChannelMode, type PeakBits, type Peaks
} from '../lib/peaks.js'
import { VersionCache } from '../lib/peaks-cache.js'
import { evaluatePreconditions } from '../lib/conditional.js'
import { overallDegradation, segmentDegradation } from '../lib/track-figures.js'
import { framesPerSegment } from '../lib/wav-format.js'

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'
const BODY_CACHE_BYTES = 32 * 1024 * 1024
const PEAKS_CACHE_BYTES = 32 * 1024 * 1024
/** Beyond this share of segments changed since the last computation, reading the whole file is simpler. */
const PATCH_AT_MOST = 0.25
/** Values (two per pixel and channel) one response may carry: about 6 MB of JSON. */
const MAX_VALUES = 1 << 20
/** Tries to read a version that no play changed underneath; then the body is served without an ETag. */
const ATTEMPTS = 3

/**
 * Peaks at 16 bits for one zoom and channel mode, with the play counts they
 * were read at. A segment's audio is a function of its count alone, so a new
 * version needs only the pixels of the segments whose count moved.
 */
interface Computed {
  counts: number[]
  peaks: Peaks
}

interface View {
  samplesPerPixel: number
  bits: PeakBits
  channels: ChannelMode
  overlay: boolean
  /** The view's part of the cache key and of the ETag. */
  key: string
}

const peaks: FastifyPluginAsyncTypebox = async (fastify) => {
  const { tracks, degrader } = fastify
  const rate = fastify.config.degradationRate
  const bodies = new VersionCache<string>(BODY_CACHE_BYTES, body => body.length)
  const computed = new VersionCache<Computed>(PEAKS_CACHE_BYTES, c => c.peaks.data.byteLength + c.counts.length * 8)
  // Plays rendered per track since boot. A play bumps its count before it
  // renders and emits its event after: what was read meanwhile may be stale.
  const rendered = new Map<string, number>()
  const onPlay = ({ filename, segment_index: segment }: { filename: string, segment_index: number }) => {
    rendered.set(filename, (rendered.get(filename) ?? 0) + 1)
    bodies.dropGroup(filename)
    // Whatever was read of this segment may predate its rendering: read it again next time.
    for (const c of computed.group(filename)) c.counts[segment] = -1
  }
  degrader.events.on('play', onPlay)
  fastify.addHook('onClose', async () => { degrader.events.off('play', onPlay) })

  const versionOf = (track: Track) => `${track.meta.track_id}-${track.plays}`
  const etagOf = (version: string, view: View) => `"${version}-${view.key}"`

  /** The peaks of the audio at play counts `counts`, patched from the last ones computed when few segments changed. */
  async function peaksAt (track: Track, view: View, counts: number[]): Promise<Peaks> {
    const m = track.meta
    const options = { samplesPerPixel: view.samplesPerPixel, channels: view.channels }
    const last = computed.get(`${m.track_id}|${view.samplesPerPixel}|${view.channels}`)
    if (last === undefined || last.counts.length !== counts.length) return await peaksOfFile(track.path, m.layout, options)
    const changed = counts.flatMap((n, s) => n === last.counts[s] ? [] : [s])
    if (changed.length > counts.length * PATCH_AT_MOST) return await peaksOfFile(track.path, m.layout, options)
    const parts = []
    for (const range of pixelsOfSegments(changed, framesPerSegment(m.layout.format, m.segment_duration), m.layout.frames, view.samplesPerPixel)) {
      parts.push({ range, peaks: await peaksOfFile(track.path, m.layout, options, range) })
    }
    return patchPeaks(last.peaks, parts)
  }

  async function compute (track: Track, view: View): Promise<{ body: string, stable: boolean }> {
    const m = track.meta
    const version = versionOf(track)
    const before = rendered.get(track.filename) ?? 0
    const counts = [...m.segment_play_counts]
    const plays = track.plays
    let peaks: Peaks
    try {
      peaks = await peaksAt(track, view, counts)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TrackError(404, 'EA_TRACK_NOT_FOUND', `Track not found: ${track.filename}`)
      throw err
    }
    const stable = versionOf(track) === version && (rendered.get(track.filename) ?? 0) === before
    if (stable) computed.set(track.filename, `${m.track_id}|${view.samplesPerPixel}|${view.channels}`, { counts, peaks })
    const waveform = audiowaveformJson(peaks, view.bits)
    if (!view.overlay) return { body: waveform, stable }
    const degradation: SegmentDegradation = {
      segment_duration: m.segment_duration,
      segment_frames: framesPerSegment(m.layout.format, m.segment_duration),
      total_segments: m.total_segments,
      segment_play_counts: counts,
      segment_degradation: segmentDegradation(counts, rate),
      overall_degradation: overallDegradation(counts, rate),
      total_plays: plays
    }
    return { body: `{"waveform":${waveform},"degradation":${JSON.stringify(degradation)}}`, stable }
  }

  /** The body for the track as it is now, cached per version and view, with its ETag when it is one version's. */
  async function currentBody (track: Track, view: View): Promise<{ body: string, etag: string | undefined }> {
    let body = ''
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const version = versionOf(track)
      const key = `${version}|${view.key}`
      const hit = bodies.get(key)
      if (hit !== undefined) return { body: hit, etag: etagOf(version, view) }
      const result = await bodies.shared(key, async () => {
        const fresh = await compute(track, view)
        if (fresh.stable) bodies.set(track.filename, key, fresh.body)
        return fresh
      })
      if (result.stable) return { body: result.body, etag: etagOf(version, view) }
      body = result.body
    }
    return { body, etag: undefined }
  }

  fastify.get('/peaks/:filename', {
    schema: {
      operationId: 'getTrackPeaks',
      tags: ['tracks'],
      summary: 'Waveform peaks of a track (audiowaveform JSON)',
      description: 'Min/max per pixel of the audio as it is now (degraded), in the BBC audiowaveform JSON format version 2 that peaks.js and waveform-data.js read. ' +
        'Computed by streaming through the file and cached per version of the track; the ETag names the version and the view, so `If-None-Match` answers 304 until the next play. ' +
        'With `overlay=degradation` the waveform is wrapped as `{ waveform, degradation }` with the share silenced per segment, from the same version.',
      params: FilenameParams,
      querystring: PeaksQuery,
      response: {
        200: {
          description: 'The waveform: AudioWaveform, or PeaksWithDegradation with `overlay=degradation`',
          headers: {
            etag: Type.String({ description: 'The version of the track and the view, e.g. `"<track_id>-<plays>-256-8m"`; absent when plays landed while the file was read', examples: ['"0b6f4d1e-9c1a-4f57-8d7e-3f1b2a9c0d11-12-256-8m"'] }),
            'cache-control': Type.String({ description: 'Revalidate every time: the next play changes the waveform', examples: ['no-cache'] })
          },
          content: { [JSON_TYPE]: { schema: Type.Union([Type.Ref('AudioWaveform'), Type.Ref('PeaksWithDegradation')]), example: audioWaveformExample } }
        },
        304: { description: 'Not modified: no play since the version named by If-None-Match', type: 'null' },
        400: errorResponse('A zoom that is invalid, both zooms at once, or more detail than one reply may carry', peaksErrorExamples.bothZooms),
        404: errorResponse('No such track', errorExamples.trackNotFound),
        422: errorResponse('The file is not a WAV the service can play', errorExamples.unplayable),
        503: errorResponse('The disk is full, read-only or not writable (EA_DISK_FULL, EA_DISK_READ_ONLY, EA_DISK_PERMISSION); Retry-After says when to try again', errorExamples.diskFull, retryLaterHeaders)
      }
    }
  }, async (request, reply) => {
    const track = await tracks.get(request.params.filename)
    const q = request.query
    if (q.samples_per_pixel !== undefined && q.pixels_per_second !== undefined) {
      throw new TrackError(400, 'EA_PEAKS_ZOOM', 'Give samples_per_pixel or pixels_per_second, not both')
    }
    const { format, frames } = track.meta.layout
    const samplesPerPixel = samplesPerPixelFor(format.sampleRate, { samplesPerPixel: q.samples_per_pixel, pixelsPerSecond: q.pixels_per_second })
    if (samplesPerPixel < MIN_SAMPLES_PER_PIXEL) {
      throw new TrackError(400, 'EA_PEAKS_ZOOM', `pixels_per_second ${q.pixels_per_second} is too fine for ${format.sampleRate} Hz: at most ${Math.floor(format.sampleRate / MIN_SAMPLES_PER_PIXEL)}`)
    }
    const channels = q.channels ?? 'mixed'
    const outChannels = channels === 'mixed' ? 1 : format.channels
    const pixelsAllowed = Math.floor(MAX_VALUES / (2 * outChannels))
    if (peaksLength(frames, samplesPerPixel) > pixelsAllowed) {
      throw new TrackError(400, 'EA_PEAKS_TOO_LARGE', `${track.filename} would need more than ${MAX_VALUES} values at ${samplesPerPixel} samples per pixel: ask for samples_per_pixel ${Math.ceil(frames / pixelsAllowed)} or more`)
    }
    const bits = q.bits ?? 8
    const overlay = q.overlay === 'degradation'
    const view: View = { samplesPerPixel, bits, channels, overlay, key: `${samplesPerPixel}-${bits}${channels === 'mixed' ? 'm' : 's'}${overlay ? 'd' : ''}` }

    reply.header('cache-control', 'no-cache')
    const etag = etagOf(versionOf(track), view)
    if (evaluatePreconditions({ ifNoneMatch: request.headers['if-none-match'] }, { etag, lastModified: track.lastModified }) === 'not-modified') {
      return await reply.code(304).header('etag', etag).send()
    }
    const current = await currentBody(track, view)
    if (current.etag !== undefined) reply.header('etag', current.etag)
    // Already JSON text: sent as is, never through the serializer.
    return await reply.type(JSON_CONTENT_TYPE).send(current.body)
  })
}

export default peaks
