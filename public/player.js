/* global document, window, history, location, fetch, EventSource, ResizeObserver, requestAnimationFrame, matchMedia */
/**
 * The Ephemeral Audio player. Plain browser JavaScript, no dependencies.
 *
 * It plays a track with an <audio> element over /stream (so the browser seeks
 * with Range requests), draws its waveform from /peaks, reports every segment
 * heard to /degrade (once per segment per listen), and follows every
 * listener's plays through /events. All URLs are relative to the page, so it
 * works wherever the service is mounted.
 *
 * Segments are numbered from 0 everywhere, as the API numbers them. Wear is
 * drawn relative to the most-played segment, so that the first plays show at
 * the default rate (1 % per play) as clearly as at a high one.
 */

const TICK_MS = 100
const PEAKS_REFRESH_MS = 1500
const FEED_LENGTH = 50
/** Below this many pixels per cell, the strip drops the hairlines between cells. */
const DENSE_CELL_PX = 4
const SEEK_STEP_SECONDS = 5
const MAX_TRIES = 4
const LIVE_RETRY_MS = 10000

const COLORS = {
  background: '#0e1118',
  axis: '#222a3a',
  played: '#5eead4',
  ahead: '#5b6678',
  worn: '#ff6358',
  playhead: '#ffffff'
}
/** The tint over worn segments, by wear relative to the most-worn one: visible from the first play on, never hiding the waveform. */
const wornTint = (relative) => `rgba(255, 99, 88, ${(0.12 + 0.3 * relative).toFixed(3)})`
const LATEST_FLASH = [{ backgroundColor: '#ffd166' }, { backgroundColor: '#ff6358' }]
const reducedMotion = matchMedia('(prefers-reduced-motion: reduce)')

const byId = (id) => document.getElementById(id)
const el = {
  list: byId('track-list'),
  tracksStatus: byId('tracks-status'),
  title: byId('track-title'),
  canvas: byId('waveform'),
  strip: byId('wear-strip'),
  stripScale: byId('strip-scale'),
  stripEnd: byId('strip-end'),
  play: byId('play'),
  time: byId('time'),
  audio: byId('audio'),
  overall: byId('overall'),
  plays: byId('plays'),
  heard: byId('heard'),
  status: byId('player-status'),
  liveState: byId('live-state'),
  liveCount: byId('live-count'),
  feed: byId('feed')
}
const audio = el.audio
const canvas = el.canvas

const state = {
  /** filename → { track, row } for the list. */
  tracks: new Map(),
  /** The chosen track and its wear, or null. */
  current: null,
  /** Segments reported in this listen; `last` is the position of the previous tick, null after a seek. */
  listen: { reported: new Set(), last: null, ended: false },
  queue: [],
  sending: false,
  received: 0,
  selecting: 0,
  peaksTimer: 0,
  ariaSecond: -1
}

const enc = encodeURIComponent

function formatTime (seconds) {
  const s = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** m:ss.s, for segment boundaries (half a second by default). */
function formatClock (seconds) {
  const tenths = Math.round(Math.max(0, seconds) * 10)
  const minutes = Math.floor(tenths / 600)
  return `${minutes}:${((tenths - minutes * 600) / 10).toFixed(1).padStart(4, '0')}`
}

/** Math.max(0, ...list) without spreading a long track's thousands of segments onto the stack. */
const largest = (list) => list.reduce((a, b) => Math.max(a, b), 0)

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`

function formatPercent (value) {
  if (value === 0) return '0%'
  if (value < 1) return `${value.toFixed(2)}%`
  if (value < 10) return `${value.toFixed(1)}%`
  return `${Math.round(value)}%`
}

function setStatus (text) {
  el.status.textContent = text
}

async function getJson (url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } })
  if (!res.ok) {
    const problem = await res.json().catch(() => null)
    throw new Error(problem?.message ?? `${url}: HTTP ${res.status}`)
  }
  return await res.json()
}

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

// ---------------------------------------------------------------- tracks

function trackRow (track) {
  const item = document.createElement('li')
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'track'
  button.dataset.filename = track.filename
  const name = document.createElement('span')
  name.className = 'track-name'
  const meta = document.createElement('span')
  meta.className = 'track-meta'
  const wear = document.createElement('span')
  wear.className = 'wear'
  wear.setAttribute('aria-hidden', 'true')
  const bar = document.createElement('span')
  wear.append(bar)
  button.append(name, meta, wear)
  button.addEventListener('click', () => { selectTrack(track.filename, { play: true }) })
  item.append(button)
  return { item, button, name, meta, bar }
}

function paintRow (entry) {
  const { track, row } = entry
  row.name.textContent = track.title
  // Dropout silences; the other engines wear the sound in their own way, and say which.
  const wear = track.engine === undefined || track.engine === 'dropout'
    ? `${formatPercent(track.overall_degradation)} silenced`
    : `${formatPercent(track.overall_degradation)} worn · ${track.engine}`
  row.meta.textContent = `${formatTime(track.duration)} · ${wear}`
  // A sliver from the first play on: at 1 % per play the true width stays under a pixel for a long time.
  const overall = Math.min(100, track.overall_degradation)
  row.bar.style.width = overall > 0 ? `max(3px, ${overall}%)` : '0'
  row.button.setAttribute('aria-current', String(state.current?.filename === track.filename))
}

async function loadTracks () {
  const list = await getJson('tracks')
  const seen = new Set()
  for (const track of list) {
    seen.add(track.filename)
    let entry = state.tracks.get(track.filename)
    if (entry === undefined) {
      entry = { track, row: trackRow(track) }
      state.tracks.set(track.filename, entry)
    }
    entry.track = track
    el.list.append(entry.row.item)
    paintRow(entry)
  }
  for (const [filename, entry] of state.tracks) {
    if (!seen.has(filename)) {
      entry.row.item.remove()
      state.tracks.delete(filename)
    }
  }
  el.tracksStatus.textContent = list.length === 0 ? 'No tracks yet: add WAV files to the audio folder.' : ''
  return list
}

// ---------------------------------------------------------------- the chosen track

async function selectTrack (filename, { play = false } = {}) {
  if (state.current?.filename === filename) {
    if (play && audio.paused) togglePlay()
    return
  }
  const token = ++state.selecting
  // Nothing is reported until the new track's segments are known.
  state.current = null
  el.strip.replaceChildren()
  audio.src = `stream/${enc(filename)}`
  // Started inside the click, which is what mobile browsers require of playback.
  if (play) startPlayback()
  el.title.textContent = state.tracks.get(filename)?.track.title ?? filename
  let stats
  try {
    stats = await getJson(`stats/${enc(filename)}`)
  } catch (err) {
    setStatus(`Could not open ${filename}: ${err.message}`)
    return
  }
  if (token !== state.selecting) return
  state.current = {
    filename,
    title: stats.title,
    duration: stats.duration,
    sampleRate: stats.sample_rate,
    segmentFrames: Math.max(1, Math.floor(stats.segment_duration * stats.sample_rate)),
    totalSegments: stats.total_segments,
    counts: stats.segment_play_counts.slice(),
    degradation: stats.segment_degradation.slice(),
    overall: stats.overall_degradation,
    totalPlays: stats.total_plays,
    peaks: null,
    cells: [],
    latest: -1
  }
  buildStrip(state.current)
  // The listen starts at 0: whatever played while the stats loaded is heard (a seek meanwhile resets this).
  state.listen = { reported: new Set(), last: audio.seeking ? null : 0, ended: false }
  state.ariaSecond = -1
  el.title.textContent = stats.title
  el.play.disabled = false
  history.replaceState(null, '', `#${enc(filename)}`)
  for (const entry of state.tracks.values()) paintRow(entry)
  paintFigures()
  setStatus('')
  draw()
  paintStrip()
  await loadPeaks()
}

function frameCount (cur) {
  return Math.max(1, Math.round(cur.duration * cur.sampleRate))
}

function segmentAt (cur, seconds) {
  const index = Math.floor(seconds * cur.sampleRate / cur.segmentFrames)
  return Math.max(0, Math.min(cur.totalSegments - 1, index))
}

async function loadPeaks () {
  const cur = state.current
  if (cur === null) return
  const spp = Math.max(2, Math.ceil(frameCount(cur) / Math.max(64, canvas.width)))
  let body
  try {
    body = await getJson(`peaks/${enc(cur.filename)}?samples_per_pixel=${spp}&overlay=degradation`)
  } catch (err) {
    setStatus(`Could not draw the waveform: ${err.message}`)
    return
  }
  if (state.current !== cur) return
  cur.peaks = body.waveform
  // A live event may already have told us about a newer version than this response.
  if (body.degradation.total_plays >= cur.totalPlays) {
    cur.counts = body.degradation.segment_play_counts
    cur.degradation = body.degradation.segment_degradation
    cur.overall = body.degradation.overall_degradation
    cur.totalPlays = body.degradation.total_plays
    paintFigures()
    paintStrip()
  }
  canvas.dataset.peaksLength = String(cur.peaks.length)
  draw()
}

/** Fetch the waveform again after `delay`, replacing any fetch already planned (a resize). */
function schedulePeaks (delay) {
  clearTimeout(state.peaksTimer)
  state.peaksTimer = setTimeout(() => {
    state.peaksTimer = 0
    loadPeaks()
  }, delay)
}

/** After plays: at most one fetch per PEAKS_REFRESH_MS however many arrive (the wear tint is updated at once meanwhile). */
function refreshPeaksSoon () {
  if (state.peaksTimer === 0) schedulePeaks(PEAKS_REFRESH_MS)
}

function paintFigures () {
  const cur = state.current
  el.overall.textContent = cur === null ? '–' : formatPercent(cur.overall)
  el.plays.textContent = cur === null ? '–' : String(cur.totalPlays)
  el.heard.textContent = cur === null ? '–' : `${state.listen.reported.size} of ${cur.totalSegments}`
}

// ---------------------------------------------------------------- drawing

function draw () {
  const ctx = canvas.getContext('2d')
  const width = canvas.width
  const height = canvas.height
  ctx.fillStyle = COLORS.background
  ctx.fillRect(0, 0, width, height)
  const mid = Math.floor(height / 2)
  ctx.fillStyle = COLORS.axis
  ctx.fillRect(0, mid, width, 1)
  const cur = state.current
  if (cur === null) return
  const frames = frameCount(cur)
  const xOfFrame = (frame) => frame / frames * width

  // Wear: a tint over each worn segment, deeper the closer it is to the most-worn one (the strip below counts the plays).
  const most = largest(cur.degradation)
  for (let s = 0; s < cur.totalSegments; s++) {
    const worn = cur.degradation[s] ?? 0
    if (worn <= 0) continue
    const x0 = Math.round(xOfFrame(s * cur.segmentFrames))
    const x1 = Math.max(x0 + 1, Math.round(xOfFrame(Math.min(frames, (s + 1) * cur.segmentFrames))))
    ctx.fillStyle = wornTint(worn / most)
    ctx.fillRect(x0, 0, x1 - x0, height)
  }

  const playX = Number.isFinite(audio.duration) && audio.duration > 0 ? audio.currentTime / audio.duration * width : 0
  const peaks = cur.peaks
  if (peaks !== null) {
    const full = peaks.bits === 8 ? 128 : 32768
    const amplitude = mid * 0.92
    const stride = 2 * peaks.channels
    const barWidth = Math.max(1, xOfFrame(peaks.samples_per_pixel))
    // Heard: the segments reported in this listen (a segment counts from the moment it starts playing).
    const reported = state.listen.reported
    const heard = (i) => reported.has(segmentAt(cur, i * peaks.samples_per_pixel / cur.sampleRate))
    for (const [color, wanted] of [[COLORS.played, true], [COLORS.ahead, false]]) {
      ctx.fillStyle = color
      ctx.beginPath()
      for (let i = 0; i < peaks.length; i++) {
        const x = xOfFrame(i * peaks.samples_per_pixel)
        if (heard(i) !== wanted) continue
        // One channel when mixed by the server; with several, the widest extent of them all.
        let min = Infinity
        let max = -Infinity
        for (let c = 0; c < stride; c += 2) {
          min = Math.min(min, peaks.data[i * stride + c])
          max = Math.max(max, peaks.data[i * stride + c + 1])
        }
        const top = mid - max / full * amplitude
        const bottom = mid - min / full * amplitude
        ctx.rect(x, top, barWidth, Math.max(1, bottom - top))
      }
      ctx.fill()
    }
  }

  ctx.fillStyle = COLORS.playhead
  ctx.fillRect(Math.min(width - 2, Math.max(0, Math.round(playX) - 1)), 0, 2, height)
}

function sizeCanvas () {
  const ratio = window.devicePixelRatio || 1
  const rect = canvas.getBoundingClientRect()
  const width = Math.max(1, Math.round(rect.width * ratio))
  const height = Math.max(1, Math.round(rect.height * ratio))
  if (width === canvas.width && height === canvas.height) return
  const before = canvas.width
  canvas.width = width
  canvas.height = height
  draw()
  markDense()
  // A much wider canvas deserves finer peaks.
  if (state.current !== null && (width > before * 1.25 || width < before * 0.5)) schedulePeaks(150)
}

// ---------------------------------------------------------------- the wear strip

/** One cell per segment, placed by frames exactly as the canvas places the segment (the last may be shorter). */
function buildStrip (cur) {
  const frames = frameCount(cur)
  const cells = []
  for (let s = 0; s < cur.totalSegments; s++) {
    const cell = document.createElement('li')
    cell.className = 'cell'
    const left = s * cur.segmentFrames / frames * 100
    const right = Math.min(frames, (s + 1) * cur.segmentFrames) / frames * 100
    cell.style.left = `${left}%`
    cell.style.width = `${right - left}%`
    const fill = document.createElement('span')
    fill.className = 'fill'
    cell.append(fill)
    cells.push(cell)
  }
  el.strip.replaceChildren(...cells)
  el.stripEnd.textContent = `segment ${Math.max(0, cur.totalSegments - 1)}`
  cur.cells = cells
  markDense()
}

function markDense () {
  const cells = state.current?.cells.length ?? 0
  el.strip.classList.toggle('dense', cells > 0 && el.strip.clientWidth / cells < DENSE_CELL_PX)
}

/** Bars as tall as the plays, next to the most-played segment: one play shows as clearly at 1 % as at 20 % per play. */
function paintStrip () {
  const cur = state.current
  if (cur === null) return
  const most = largest(cur.counts)
  const worst = largest(cur.degradation)
  for (let s = 0; s < cur.cells.length; s++) {
    const plays = cur.counts[s] ?? 0
    const cell = cur.cells[s]
    const key = `${plays}/${most}`
    if (cell.dataset.key === key) continue
    cell.dataset.key = key
    cell.classList.toggle('played', plays > 0)
    cell.firstChild.style.height = most === 0 ? '0' : `${plays / most * 100}%`
    cell.title = `Segment ${s}: ${plural(plays, 'play')}, ${formatPercent(cur.degradation[s] ?? 0)} silenced`
  }
  el.stripScale.textContent = most === 0
    ? 'no plays yet: each one raises its segment\'s bar'
    : `tallest bar: ${plural(most, 'play')}, ${formatPercent(worst)} silenced`
}

/** The cell of the latest play: a marker that stays, and a flash when motion is welcome. */
function markLatest (cur, segment) {
  cur.cells[cur.latest]?.classList.remove('latest')
  cur.latest = segment
  const cell = cur.cells[segment]
  if (cell === undefined) return
  cell.classList.add('latest')
  if (!reducedMotion.matches) cell.firstChild.animate(LATEST_FLASH, { duration: 1200, easing: 'ease-out' })
}

/** Where the segment lies in the track, when it is the chosen one (the only one whose segment length we know). */
function segmentSpan (play) {
  const cur = state.current
  if (cur === null || cur.filename !== play.filename) return ''
  const seconds = cur.segmentFrames / cur.sampleRate
  const from = play.segment_index * seconds
  return ` · ${formatClock(from)}–${formatClock(Math.min(cur.duration, from + seconds))}`
}

// ---------------------------------------------------------------- position, time and reporting

function paintPosition () {
  const cur = state.current
  const t = audio.currentTime
  const d = Number.isFinite(audio.duration) ? audio.duration : (cur?.duration ?? 0)
  el.time.textContent = `${formatTime(t)} / ${formatTime(d)}`
  const second = Math.floor(t)
  if (cur === null || second === state.ariaSecond) return
  state.ariaSecond = second
  const s = segmentAt(cur, t)
  canvas.setAttribute('aria-valuemax', String(Math.round(d)))
  canvas.setAttribute('aria-valuenow', String(second))
  canvas.setAttribute('aria-valuetext', `${formatTime(t)} of ${formatTime(d)}, segment ${s} (of 0 to ${cur.totalSegments - 1}), ${plural(cur.counts[s] ?? 0, 'play')}, ${formatPercent(cur.degradation[s] ?? 0)} silenced`)
}

/** Every segment played through since the last tick is heard: a throttled timer in a background tab misses none. */
function advance (t) {
  const cur = state.current
  if (cur === null) return
  const last = state.listen.last
  const now = segmentAt(cur, t)
  const from = last !== null && t >= last ? segmentAt(cur, last) : now
  for (let s = from; s <= now; s++) report(s)
  state.listen.last = t
}

function tick () {
  if (state.current === null || audio.seeking) {
    // A seek jumps: what lies between was not heard.
    state.listen.last = null
    return
  }
  if (!audio.paused) advance(audio.currentTime)
}

function report (segment) {
  const listen = state.listen
  if (listen.reported.has(segment)) return
  listen.reported.add(segment)
  state.queue.push({ filename: state.current.filename, segment, tries: 0 })
  paintFigures()
  pump()
}

/** Sends the queued plays one at a time, in order, retrying what the network or the rate limit refused. */
async function pump () {
  if (state.sending) return
  state.sending = true
  try {
    while (state.queue.length > 0) {
      const job = state.queue[0]
      const retryIn = await postPlay(job)
      if (retryIn !== undefined && ++job.tries < MAX_TRIES) {
        await sleep(retryIn)
        continue
      }
      state.queue.shift()
    }
  } finally {
    state.sending = false
  }
}

/** Milliseconds to wait before trying again, or undefined when done (recorded or refused for good). */
async function postPlay (job) {
  let res
  try {
    res = await fetch(`degrade/${enc(job.filename)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ segment_index: job.segment })
    })
  } catch {
    setStatus('Offline: the segments you hear will be recorded when the connection is back.')
    return 1000 * 2 ** job.tries
  }
  if (res.ok) {
    applyPlay(await res.json())
    return undefined
  }
  if (res.status === 429 || res.status >= 500) return 1000 * (Number(res.headers.get('retry-after')) || 2 ** job.tries)
  const problem = await res.json().catch(() => null)
  setStatus(`Segment ${job.segment} was not recorded: ${problem?.message ?? `HTTP ${res.status}`}`)
  return undefined
}

/** A recorded play, ours (from /degrade) or anyone's (from /events): newer counts win, in any arrival order. */
function applyPlay (play) {
  const entry = state.tracks.get(play.filename)
  if (entry !== undefined && play.total_plays >= entry.track.total_plays) {
    entry.track.total_plays = play.total_plays
    entry.track.overall_degradation = play.overall_degradation
    paintRow(entry)
  }
  const cur = state.current
  if (cur === null || cur.filename !== play.filename) return
  // Ours arrive twice (the reply and the event): the first one marks the cell.
  if (play.play_count > (cur.counts[play.segment_index] ?? 0)) {
    cur.counts[play.segment_index] = play.play_count
    cur.degradation[play.segment_index] = play.segment_degradation
    markLatest(cur, play.segment_index)
  }
  if (play.total_plays >= cur.totalPlays) {
    cur.totalPlays = play.total_plays
    cur.overall = play.overall_degradation
  }
  paintFigures()
  paintStrip()
  draw()
  // The waveform itself changed; the server re-reads only the segments played.
  refreshPeaksSoon()
}

// ---------------------------------------------------------------- playback controls

function startPlayback () {
  audio.play().catch((err) => {
    // AbortError: another track was chosen before this one started.
    if (err.name !== 'AbortError') setStatus(`Playback did not start: ${err.message}`)
  })
}

function togglePlay () {
  if (state.current === null) return
  if (audio.paused) startPlayback()
  else audio.pause()
}

function seekTo (seconds) {
  const d = Number.isFinite(audio.duration) ? audio.duration : state.current?.duration ?? 0
  audio.currentTime = Math.max(0, Math.min(d, seconds))
  paintPosition()
  draw()
}

function seekToPointer (event) {
  const rect = canvas.getBoundingClientRect()
  const d = Number.isFinite(audio.duration) ? audio.duration : state.current?.duration ?? 0
  seekTo((event.clientX - rect.left) / rect.width * d)
}

canvas.addEventListener('pointerdown', (event) => {
  if (state.current === null) return
  canvas.setPointerCapture(event.pointerId)
  seekToPointer(event)
})
canvas.addEventListener('pointermove', (event) => {
  if (canvas.hasPointerCapture(event.pointerId)) seekToPointer(event)
})

canvas.addEventListener('keydown', (event) => {
  if (state.current === null) return
  const d = Number.isFinite(audio.duration) ? audio.duration : state.current.duration
  const t = audio.currentTime
  const moves = {
    ArrowLeft: t - SEEK_STEP_SECONDS,
    ArrowDown: t - SEEK_STEP_SECONDS,
    ArrowRight: t + SEEK_STEP_SECONDS,
    ArrowUp: t + SEEK_STEP_SECONDS,
    PageDown: t - d / 10,
    PageUp: t + d / 10,
    Home: 0,
    End: d
  }
  if (event.key in moves) {
    seekTo(moves[event.key])
  } else if (event.key === ' ' || event.key === 'Enter') {
    togglePlay()
  } else {
    return
  }
  event.preventDefault()
})

el.play.addEventListener('click', togglePlay)

let ticker = 0
function animate () {
  if (audio.paused) return
  paintPosition()
  draw()
  requestAnimationFrame(animate)
}

audio.addEventListener('play', () => {
  // Playing again after the end is a new listen: every segment counts again.
  if (state.listen.ended) state.listen = { reported: new Set(), last: null, ended: false }
  el.play.textContent = 'Pause'
  clearInterval(ticker)
  ticker = setInterval(tick, TICK_MS)
  paintFigures()
  requestAnimationFrame(animate)
})
audio.addEventListener('pause', () => {
  el.play.textContent = 'Play'
  clearInterval(ticker)
  // The segment playback stopped in was heard too, however briefly.
  const last = state.listen.last
  if (!audio.seeking && last !== null && audio.currentTime > last) advance(audio.currentTime)
  paintPosition()
  draw()
})
audio.addEventListener('timeupdate', () => {
  tick()
  paintPosition()
})
audio.addEventListener('seeking', () => { state.listen.last = null })
audio.addEventListener('seeked', () => {
  state.listen.last = null
  paintPosition()
  draw()
})
audio.addEventListener('ended', () => {
  if (state.listen.last !== null) advance(audio.currentTime)
  state.listen.ended = true
})
audio.addEventListener('loadedmetadata', () => {
  state.ariaSecond = -1
  paintPosition()
})
audio.addEventListener('error', () => {
  if (audio.getAttribute('src')) setStatus('The audio could not be loaded; try again in a moment.')
})

// ---------------------------------------------------------------- live events

function setLive (text, mode) {
  el.liveState.textContent = text
  el.liveState.className = `pill ${mode}`
}

function addToFeed (play) {
  const title = state.tracks.get(play.filename)?.track.title ?? play.filename
  const item = document.createElement('li')
  const what = document.createElement('span')
  what.className = 'what'
  what.textContent = `Segment ${play.segment_index}`
  const how = document.createElement('span')
  how.className = 'how'
  how.textContent = `${formatPercent(play.segment_degradation)} gone`
  const where = document.createElement('span')
  where.className = 'where'
  where.textContent = `${title}${segmentSpan(play)} · play ${play.play_count}`
  item.append(what, how, where)
  el.feed.prepend(item)
  while (el.feed.children.length > FEED_LENGTH) el.feed.lastElementChild.remove()
}

async function refreshAll () {
  try {
    await loadTracks()
    const cur = state.current
    if (cur === null) return
    const stats = await getJson(`stats/${enc(cur.filename)}`)
    if (state.current !== cur) return
    cur.counts = stats.segment_play_counts.slice()
    cur.degradation = stats.segment_degradation.slice()
    cur.overall = stats.overall_degradation
    cur.totalPlays = stats.total_plays
    paintFigures()
    paintStrip()
    await loadPeaks()
  } catch (err) {
    setStatus(`Could not refresh: ${err.message}`)
  }
}

function connectLive () {
  const source = new EventSource('events')
  let interrupted = false
  source.addEventListener('open', () => {
    setLive('live', 'on')
    // Plays may have happened while we were away.
    if (interrupted) refreshAll()
    interrupted = false
  })
  source.addEventListener('error', () => {
    interrupted = true
    if (source.readyState === EventSource.CLOSED) {
      // Refused (e.g. the listener limit): the browser gives up, so we try again later.
      setLive('offline', 'off')
      setTimeout(connectLive, LIVE_RETRY_MS)
    } else {
      setLive('reconnecting…', 'off')
    }
  })
  source.addEventListener('play', (event) => {
    const play = JSON.parse(event.data)
    state.received++
    el.liveCount.textContent = String(state.received)
    addToFeed(play)
    applyPlay(play)
  })
  source.addEventListener('reset', () => { refreshAll() })
}

// ---------------------------------------------------------------- start

async function start () {
  new ResizeObserver(sizeCanvas).observe(canvas)
  sizeCanvas()
  connectLive()
  let list
  try {
    list = await loadTracks()
  } catch (err) {
    el.tracksStatus.textContent = `Could not load the tracks: ${err.message}`
    return
  }
  let wanted = ''
  try { wanted = decodeURIComponent(location.hash.slice(1)) } catch { /* a hand-typed, malformed fragment */ }
  const first = list.find(t => t.filename === wanted) ?? list[0]
  if (first !== undefined) await selectTrack(first.filename)
}

start()
