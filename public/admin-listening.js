/* global document, Intl */
/**
 * The admin page's Listening tab: how the library was listened to over the
 * last 7, 30 or 90 UTC days (GET admin/analytics), and one track's wear over
 * time (GET tracks/{filename}/history, by hour) with the plays of each of
 * its parts (GET stats/{filename}). admin.js owns the token and the API
 * calls; this module only reads and draws. Figures load each time the tab
 * is shown, and those that arrive after a newer question are dropped.
 */
import {
  chartsAvailable, drawClock, drawHeatStrip, everyDay, formatCount, hourRange, libraryDaysChart,
  trackDaysChart, watchSize, wearChart, weekdayName
} from './admin-charts.js'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
const SECOND = 1000
const ANALYTICS_OFF = 'EA_ANALYTICS_OFF'
const UNAUTHORIZED = 401
const COUNTRY_ROWS = 8
const OFF_TEXT = 'Listening analytics are off (ANALYTICS=off in the service\'s settings): no listening history is recorded, so there is nothing to chart. Plays are still counted.'

const byId = (id) => document.getElementById(id)
const enc = encodeURIComponent
const regions = new Intl.DisplayNames(['en'], { type: 'region' })
const countryName = (code) => { try { return regions.of(code) ?? code } catch { return code } }
const dateOf = (ms) => new Date(ms).toISOString().slice(0, 10)

function formatDuration (seconds) {
  if (seconds < 59.5) return `${Math.round(seconds)} s`
  const minutes = Math.round(seconds / 60)
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
}

/** A message under a heading: '' hides it. */
function tell (node, text, kind = '') {
  node.textContent = text
  node.className = `message ${kind}`
}

/** A table cell with a number, right-aligned. */
function numberCell (n) {
  const td = document.createElement('td')
  td.className = 'num'
  td.textContent = formatCount(n)
  return td
}

/** A name above a thin bar as long as its share of the largest. */
function barCell (content, ratio) {
  const td = document.createElement('td')
  const bar = document.createElement('span')
  bar.className = 'share'
  bar.setAttribute('aria-hidden', 'true')
  bar.style.width = `${Math.max(2, Math.round(ratio * 100))}%`
  td.append(content, bar)
  return td
}

/**
 * @param {object} deps
 * @param {(method: string, url: string) => Promise<Response>} deps.api admin.js's API call (errors carry status, code and the service's words)
 * @param {() => Map<string, {filename: string, title: string}>} deps.tracks the tracks as last listed
 * @param {() => Promise<void>} deps.tracksReady settled once the tracks were first listed
 * @param {() => {segment_duration: number} | null} deps.service GET / of the service, once loaded
 * @param {(seconds: number) => string} deps.formatTime
 */
export function createListening ({ api, tracks, tracksReady, service, formatTime }) {
  const el = {
    chips: [...document.querySelectorAll('.period [data-days]')],
    refresh: byId('listening-refresh'),
    libraryMessage: byId('library-listening-message'),
    library: byId('library-listening'),
    daysChart: byId('days-chart'),
    topTracks: byId('top-tracks').tBodies[0],
    countries: byId('countries').tBodies[0],
    countriesNote: byId('countries-note'),
    clock: byId('clock'),
    clockMeasure: byId('clock-measure'),
    clockPeak: byId('clock-peak'),
    track: byId('history-track'),
    life: byId('history-life'),
    trackMessage: byId('track-listening-message'),
    trackBody: byId('track-listening'),
    wearChart: byId('wear-chart'),
    playsChart: byId('plays-chart'),
    heat: byId('heat'),
    heatStrip: byId('heat-strip'),
    heatEnd: document.querySelector('#heat [data-field="end"]'),
    heatPeak: byId('heat-peak')
  }
  const state = { days: 30, shown: false, libraryRun: 0, trackRun: 0, clock: [], chosen: false }
  for (const box of [el.daysChart, el.wearChart, el.playsChart]) watchSize(box)

  /** The period: from midnight (UTC) `days - 1` days ago; its end is the service's now. */
  const periodStart = () => Math.floor(Date.now() / DAY_MS) * DAY_MS - (state.days - 1) * DAY_MS
  const inWords = () => `the last ${state.days} days`

  /** An error in words: analytics off, or the service's message; a refused token has already signed out. */
  function problem (what, error) {
    if (error.code === ANALYTICS_OFF) return { text: OFF_TEXT, kind: 'off' }
    if (error.status === UNAUTHORIZED) return { text: '', kind: '' }
    return { text: `${what} could not be loaded: ${error.message}`, kind: 'error' }
  }

  // ---------------------------------------------------------------- the library

  async function loadLibrary () {
    const run = ++state.libraryRun
    const from = periodStart()
    tell(el.libraryMessage, `Loading ${inWords()}…`)
    let a
    try {
      a = await (await api('GET', `admin/analytics?from=${enc(new Date(from).toISOString())}&top=10`)).json()
    } catch (error) {
      if (run !== state.libraryRun) return
      const { text, kind } = problem('The library\'s figures', error)
      tell(el.libraryMessage, text, kind)
      el.library.hidden = true
      return
    }
    if (run !== state.libraryRun) return
    if (a.totals.plays + a.totals.listens === 0) {
      tell(el.libraryMessage, `Nobody listened in ${inWords()}: no plays or listens were recorded. The figures appear here as people play the tracks.`, 'empty')
      el.library.hidden = true
      return
    }
    tell(el.libraryMessage, chartsAvailable() ? '' : 'The charts could not be loaded (admin/vendor/uplot.js); the tables below still hold the figures.', chartsAvailable() ? '' : 'error')
    el.library.hidden = false
    drawTotals(a.totals)
    if (chartsAvailable()) {
      const figures = new Map(a.days.map(d => [Date.parse(d.day) / SECOND, d]))
      libraryDaysChart(el.daysChart, everyDay(from / SECOND, Date.parse(a.to) / SECOND, figures))
    }
    drawTopTracks(a.top_tracks)
    drawCountries(a.countries, a.totals.listens)
    state.clock = a.clock
    drawListeningClock()
    // The first time, the per-track section opens on the most played track (load() then loads it).
    const top = a.top_tracks[0]?.filename
    if (!state.chosen && tracks().has(top)) {
      el.track.value = top
      state.chosen = true
    }
  }

  function drawTotals (totals) {
    const seconds = totals.plays * (service()?.segment_duration ?? 0)
    const values = { listens: formatCount(totals.listens), plays: formatCount(totals.plays), tracks: formatCount(totals.tracks), heard: seconds > 0 ? formatDuration(seconds) : '–' }
    for (const dd of document.querySelectorAll('#totals [data-total]')) dd.textContent = values[dd.dataset.total]
  }

  function drawTopTracks (top) {
    const max = Math.max(1, ...top.map(t => t.plays))
    const latest = new Map()
    for (const t of top) latest.set(t.filename, Math.max(latest.get(t.filename) ?? 0, Date.parse(t.started_at)))
    el.topTracks.replaceChildren(...top.map(t => {
      const tr = document.createElement('tr')
      tr.dataset.filename = t.filename
      const track = tracks().get(t.filename)
      const name = document.createElement(track === undefined ? 'span' : 'button')
      name.textContent = track?.title ?? t.filename
      if (track !== undefined) {
        name.type = 'button'
        name.className = 'link'
        name.title = `Show ${t.filename} below`
        name.addEventListener('click', () => chooseTrack(t.filename))
      }
      const cell = barCell(name, t.plays / max)
      // A reset track's earlier life is listed on its own.
      if (Date.parse(t.started_at) < latest.get(t.filename)) cell.append(Object.assign(document.createElement('span'), { className: 'life-note', textContent: ` before a reset (from ${dateOf(Date.parse(t.started_at))})` }))
      tr.append(cell, numberCell(t.plays), numberCell(t.listens))
      return tr
    }))
  }

  function drawCountries (countries, listens) {
    const shown = countries.slice(0, COUNTRY_ROWS)
    const others = countries.slice(COUNTRY_ROWS).reduce((n, c) => n + c.listens, 0)
    const max = Math.max(1, ...shown.map(c => c.listens))
    const rows = shown.map(c => {
      const tr = document.createElement('tr')
      tr.dataset.country = c.country
      tr.append(barCell(countryName(c.country), c.listens / max), numberCell(c.listens))
      return tr
    })
    if (others > 0) {
      const tr = document.createElement('tr')
      tr.append(barCell(`${countries.length - COUNTRY_ROWS} other countries`, others / max), numberCell(others))
      rows.push(tr)
    }
    el.countries.replaceChildren(...rows)
    el.countries.parentElement.hidden = rows.length === 0
    const unknown = listens - countries.reduce((n, c) => n + c.listens, 0)
    el.countriesNote.textContent = rows.length === 0
      ? 'No listen has a known country yet (see ANALYTICS_COUNTRY).'
      : unknown > 0 ? `${formatCount(unknown)} more from nowhere known.` : ''
  }

  function drawListeningClock () {
    const measure = el.clockMeasure.value
    const peaks = drawClock(el.clock, state.clock, measure)
    const [peak] = peaks
    el.clockPeak.textContent = peak === undefined
      ? `No ${measure} in ${inWords()}.`
      : `Busiest: ${weekdayName(peak.weekday)}s ${hourRange(peak.hour)} UTC, ${formatCount(peak[measure])} ${measure}${peaks.length > 1 ? ` (and ${peaks.length - 1} more hours as busy)` : ''}.`
  }

  // ---------------------------------------------------------------- one track

  function chooseTrack (filename) {
    state.chosen = true
    el.track.value = filename
    loadTrack()
    el.track.scrollIntoView({ block: 'center' })
  }

  async function loadTrack () {
    const run = ++state.trackRun
    const filename = el.track.value
    if (filename === '') {
      tell(el.trackMessage, 'No tracks yet: upload one in the Library tab.', 'empty')
      el.trackBody.hidden = el.heat.hidden = true
      return
    }
    const from = periodStart()
    const life = el.life.checked ? 1 : 0
    tell(el.trackMessage, `Loading ${filename}…`)
    const [history, stats] = await Promise.allSettled([
      api('GET', `tracks/${enc(filename)}/history?from=${enc(new Date(from).toISOString())}&bucket=hour&life=${life}`).then(res => res.json()),
      api('GET', `stats/${enc(filename)}`).then(res => res.json())
    ])
    if (run !== state.trackRun) return
    drawHeat(stats)
    if (history.status === 'rejected') {
      const { text, kind } = problem(`The history of ${filename}`, history.reason)
      tell(el.trackMessage, text, kind)
      el.trackBody.hidden = true
      return
    }
    const points = history.value.map(p => ({ ...p, t: Date.parse(p.t) }))
    if (points.length === 0) {
      tell(el.trackMessage, life === 1
        ? `No earlier life of ${filename} in ${inWords()}: it was not reset, or not played before its reset in this period.`
        : `Nobody listened to ${filename} in ${inWords()}.`, 'empty')
      el.trackBody.hidden = true
      return
    }
    tell(el.trackMessage, chartsAvailable() ? '' : 'The charts could not be loaded (admin/vendor/uplot.js).', chartsAvailable() ? '' : 'error')
    el.trackBody.hidden = !chartsAvailable()
    if (!chartsAvailable()) return
    const now = Date.now()
    const range = [from / SECOND, now / SECOND]
    // Each hour's degradation is the one at its end; the current life's line runs on to now.
    const wear = points.filter(p => p.overall_degradation !== null).map(p => ({ t: (p.t + HOUR_MS) / SECOND, value: p.overall_degradation }))
    if (life === 0 && wear.length > 0) wear.push({ t: now / SECOND, value: wear.at(-1).value })
    wearChart(el.wearChart, wear, range)
    const days = new Map()
    for (const p of points) {
      const day = Math.floor(p.t / DAY_MS) * DAY_MS / SECOND
      const d = days.get(day) ?? { plays: 0, listens: 0 }
      days.set(day, { plays: d.plays + p.plays, listens: d.listens + p.listens })
    }
    trackDaysChart(el.playsChart, everyDay(from / SECOND, now / SECOND, days), range)
  }

  /** The heat strip from GET stats: the plays of each part now, whatever period or life is shown. */
  function drawHeat (stats) {
    el.heat.hidden = stats.status === 'rejected'
    if (stats.status === 'rejected') return
    const s = stats.value
    // Dropout silences; the other engines wear the sound in other ways (as the Library tab words it).
    const worn = (s.engine ?? 'dropout') === 'dropout' ? 'silenced' : 'worn'
    const hottest = drawHeatStrip(el.heatStrip, s, worn)
    el.heatEnd.textContent = formatTime(s.duration)
    el.heatPeak.textContent = hottest === undefined
      ? 'Not played yet: every part is as it was.'
      : `Most played: ${hottest.at} (segment ${hottest.segment}), ${formatCount(hottest.plays)} plays, ${hottest.worn.toFixed(0)}% of it ${worn}. ${formatCount(s.total_plays)} plays in all, ${s.overall_degradation.toFixed(1)}% of the track ${worn}.`
  }

  // ---------------------------------------------------------------- wiring

  async function load () {
    // The tab may open before the track list arrives: the figures name the tracks, and choose one.
    await tracksReady()
    const library = loadLibrary()
    // Until a track is chosen, the library's answer chooses its most played.
    if (!state.chosen) await library
    await loadTrack()
  }

  for (const chip of el.chips) {
    chip.addEventListener('click', () => {
      state.days = Number(chip.dataset.days)
      for (const c of el.chips) c.setAttribute('aria-pressed', String(c === chip))
      load()
    })
  }
  el.refresh.addEventListener('click', load)
  el.clockMeasure.addEventListener('change', drawListeningClock)
  el.track.addEventListener('change', () => { state.chosen = true; loadTrack() })
  el.life.addEventListener('change', loadTrack)

  return {
    /** The tab is shown: its figures are loaded afresh (tracks may have been played, reset or deleted meanwhile). */
    show () {
      state.shown = true
      load()
    },
    hide () { state.shown = false },
    /** The track list changed: the chooser follows it, keeping the chosen track if it is still there. */
    tracksChanged () {
      const chosen = el.track.value
      el.track.replaceChildren(...[...tracks().values()].map(t => Object.assign(document.createElement('option'), {
        value: t.filename, textContent: t.title === t.filename.replace(/\.wav$/i, '') ? t.filename : `${t.title} (${t.filename})`
      })))
      if (tracks().has(chosen)) el.track.value = chosen
      if (state.shown && el.track.value !== chosen) loadTrack()
    },
    /** Signed out: the next sign-in chooses the track afresh; answers still on their way are dropped. */
    forget () {
      state.chosen = false
      state.libraryRun++
      state.trackRun++
    }
  }
}
