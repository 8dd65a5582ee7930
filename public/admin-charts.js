/* global document, ResizeObserver */
/**
 * The Listening tab's pictures: time charts drawn by uPlot (loaded by
 * admin.html as a classic script, the global `uPlot`), and two heat maps in
 * plain DOM, so each cell can say what it holds (the listening clock, the
 * wear of each part of a track). Colours are the player's (player.css).
 * Styles are set through the CSSOM (element.style), which the page's content
 * security policy allows, unlike style attributes in markup.
 */

const UPlot = globalThis.uPlot
const SECOND = 1000
const DAY_S = 86_400
const COLOURS = { text: '#9ba5b7', line: '#273042', accent: '#5eead4', listeners: '#ffd166', worn: '#ff6358' }
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
/** Monday first, as calendars in most of the world (the API counts from Sunday, as JavaScript's getUTCDay does). */
const WEEK_ORDER = [1, 2, 3, 4, 5, 6, 0]
const number = new Intl.NumberFormat('en')

export const chartsAvailable = () => typeof UPlot === 'function'
export const formatCount = (n) => number.format(n)
export const weekdayName = (weekday) => WEEKDAYS[weekday]
/** A time in the track, as m:ss, with tenths when segments are shorter than a second. */
const trackTime = (seconds, tenths) => {
  const t = tenths ? Math.round(seconds * 10) / 10 : Math.round(seconds)
  const whole = Math.floor(t)
  const rest = tenths ? (t - whole).toFixed(1).slice(1) : ''
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}${rest}`
}
export const hourRange = (hour) => `${String(hour).padStart(2, '0')}:00–${String((hour + 1) % 24).padStart(2, '0')}:00`

/** A colour for `ratio` in 0..1: the empty cell's dark blue, through the accent's teal and amber, to the worn red. */
const STOPS = [[28, 36, 51], [23, 120, 115], [94, 234, 212], [255, 209, 102], [255, 99, 88]]
export function heatColour (ratio) {
  if (!(ratio > 0)) return `rgb(${STOPS[0].join(',')})`
  const x = Math.min(1, ratio) * (STOPS.length - 1)
  const i = Math.min(STOPS.length - 2, Math.floor(x))
  const f = x - i
  return `rgb(${STOPS[i].map((c, k) => Math.round(c + (STOPS[i + 1][k] - c) * f)).join(',')})`
}

// ---------------------------------------------------------------- time charts

/** Charts by their box: one chart per box, replaced when redrawn, resized with it. */
const charts = new Map()

const axis = (extra = {}) => ({
  stroke: COLOURS.text,
  font: FONT,
  grid: { stroke: COLOURS.line, width: 1 },
  ticks: { stroke: COLOURS.line, width: 1 },
  ...extra
})
/** Day ticks as "3 Nov" (UTC), other ticks as their UTC hour. */
const dayLabel = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' })
const timeAxis = () => axis({
  values: (u, ticks) => ticks.map(s => (s % DAY_S === 0 ? dayLabel.format(s * SECOND) : `${String(Math.floor(s % DAY_S / 3600)).padStart(2, '0')}:00`))
})
const countAxis = (extra) => axis({ size: 48, values: (u, ticks) => ticks.map(v => (Number.isInteger(v) ? compact(v) : '')), ...extra })
const compact = (v) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : number.format(v))
const bars = () => UPlot.paths.bars({ size: [0.7, 32] })

/** Draw a uPlot chart in `box`, as wide as the box (again whenever it changes width: a tab shown, a phone turned). */
function draw (box, options, data) {
  charts.get(box)?.destroy()
  const height = box.clientWidth < 480 ? 180 : 220
  const chart = new UPlot({
    width: Math.max(box.clientWidth, 200),
    height,
    // Days and hours are UTC, as the API counts them, whatever the browser's zone.
    tzDate: ts => UPlot.tzDate(new Date(ts * SECOND), 'Etc/UTC'),
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    legend: { live: true },
    ...options
  }, data, box)
  chart.height = height
  charts.set(box, chart)
}

const resizing = new ResizeObserver(entries => {
  for (const { target } of entries) {
    const chart = charts.get(target)
    if (chart !== undefined && target.clientWidth > 0 && Math.abs(chart.width - target.clientWidth) > 1) chart.setSize({ width: target.clientWidth, height: chart.height })
  }
})
export const watchSize = (box) => resizing.observe(box)

/** Listens (bars) and distinct listeners per day on the left scale, segment plays on the right. */
export function libraryDaysChart (box, days) {
  draw(box, {
    scales: { x: { time: true }, n: { range: (u, min, max) => [0, Math.max(1, max)] }, plays: { range: (u, min, max) => [0, Math.max(1, max)] } },
    series: [
      { label: 'Day', value: '{YYYY}-{MM}-{DD}' },
      { label: 'Listens', scale: 'n', stroke: COLOURS.accent, fill: 'rgba(94, 234, 212, 0.45)', paths: bars(), points: { show: false } },
      { label: 'Listeners', scale: 'n', stroke: COLOURS.listeners, width: 2, points: { size: 4 } },
      { label: 'Plays', scale: 'plays', stroke: COLOURS.worn, width: 2, points: { size: 4 } }
    ],
    axes: [timeAxis(), countAxis({ scale: 'n' }), countAxis({ scale: 'plays', side: 1, grid: { show: false } })]
  }, [days.map(d => d.t), days.map(d => d.listens), days.map(d => d.listeners), days.map(d => d.plays)])
}

/** A track's segment plays (bars) and listens per day. */
export function trackDaysChart (box, days, range) {
  draw(box, {
    scales: { x: { time: true, range }, n: { range: (u, min, max) => [0, Math.max(1, max)] }, listens: { range: (u, min, max) => [0, Math.max(1, max)] } },
    series: [
      { label: 'Day', value: '{YYYY}-{MM}-{DD}' },
      { label: 'Plays', scale: 'n', stroke: COLOURS.worn, fill: 'rgba(255, 99, 88, 0.45)', paths: bars(), points: { show: false } },
      { label: 'Listens', scale: 'listens', stroke: COLOURS.accent, width: 2, points: { size: 4 } }
    ],
    axes: [timeAxis(), countAxis({ scale: 'n' }), countAxis({ scale: 'listens', side: 1, grid: { show: false } })]
  }, [days.map(d => d.t), days.map(d => d.plays), days.map(d => d.listens)])
}

/**
 * The overall degradation as it rose: a step at each hour something was
 * played, held until the next (nothing wears while nobody listens).
 */
export function wearChart (box, points, range) {
  draw(box, {
    scales: { x: { time: true, range }, y: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] } },
    series: [
      { label: 'Time', value: '{YYYY}-{MM}-{DD} {HH}:00 UTC' },
      { label: 'Worn', stroke: COLOURS.worn, width: 2, fill: 'rgba(255, 99, 88, 0.12)', paths: UPlot.paths.stepped({ align: 1 }), points: { show: false }, value: (u, v) => (v == null ? '–' : `${v.toFixed(v < 10 ? 2 : 1)}%`) }
    ],
    axes: [timeAxis(), axis({ size: 48, values: (u, ticks) => ticks.map(v => `${v}%`) })]
  }, [points.map(p => p.t), points.map(p => p.value)])
}

/** Each UTC day from `from` (seconds, midnight) to `to`, with a day's figures or zeros. */
export function everyDay (from, to, figures) {
  const days = []
  for (let t = from; t < to; t += DAY_S) days.push({ t, plays: 0, listens: 0, listeners: 0, ...figures.get(t) })
  return days
}

// ---------------------------------------------------------------- heat maps

/** The hours of the week as a 7 × 24 table, Monday first; the busiest hours are marked `peak`. */
export function drawClock (table, clock, measure) {
  const cells = new Map(clock.map(c => [`${c.weekday}/${c.hour}`, c]))
  const max = Math.max(0, ...clock.map(c => c[measure]))
  const head = document.createElement('tr')
  head.append(document.createElement('td'))
  for (let hour = 0; hour < 24; hour++) {
    const th = document.createElement('th')
    th.scope = 'col'
    th.textContent = hour % 6 === 0 ? String(hour).padStart(2, '0') : ''
    th.setAttribute('aria-label', hourRange(hour))
    head.append(th)
  }
  const rows = WEEK_ORDER.map(weekday => {
    const tr = document.createElement('tr')
    const th = document.createElement('th')
    th.scope = 'row'
    th.textContent = WEEKDAYS[weekday].slice(0, 3)
    th.setAttribute('aria-label', WEEKDAYS[weekday])
    tr.append(th)
    for (let hour = 0; hour < 24; hour++) {
      const figures = cells.get(`${weekday}/${hour}`) ?? { plays: 0, listens: 0 }
      const td = document.createElement('td')
      const words = `${WEEKDAYS[weekday]} ${hourRange(hour)} UTC: ${formatCount(figures.plays)} plays, ${formatCount(figures.listens)} listens`
      td.dataset.weekday = String(weekday)
      td.dataset.hour = String(hour)
      td.dataset.value = String(figures[measure])
      td.title = words
      td.style.backgroundColor = heatColour(max > 0 ? figures[measure] / max : 0)
      if (max > 0 && figures[measure] === max) td.classList.add('peak')
      const text = document.createElement('span')
      text.className = 'visually-hidden'
      text.textContent = words
      td.append(text)
      tr.append(td)
    }
    return tr
  })
  const caption = document.createElement('caption')
  caption.className = 'visually-hidden'
  caption.textContent = `The hours of the week (UTC), shaded by ${measure}`
  // The weekdays' column keeps its width in the fixed layout; the hours share the rest.
  const columns = document.createElement('colgroup')
  columns.append(Object.assign(document.createElement('col'), { className: 'clock-days' }), Object.assign(document.createElement('col'), { span: 24 }))
  table.replaceChildren(caption, columns, head, ...rows)
  return max > 0 ? clock.filter(c => c[measure] === max) : []
}

/** At most this many cells: a longer track's segments share cells, each showing its most played segment. */
const MAX_CELLS = 240

/**
 * A track's segments as a strip of cells, shaded by plays (the share of each
 * segment already `worn` follows them); the most played is marked `hottest`.
 * Returns the hottest cell's figures, or undefined when nothing was played.
 */
export function drawHeatStrip (strip, stats, worn) {
  const counts = stats.segment_play_counts
  const tenths = !Number.isInteger(stats.segment_duration)
  const per = Math.max(1, Math.ceil(counts.length / MAX_CELLS))
  const max = Math.max(0, ...counts)
  const cells = []
  let hottest
  for (let from = 0; from < counts.length; from += per) {
    const to = Math.min(counts.length, from + per)
    let top = from
    for (let i = from; i < to; i++) if (counts[i] > counts[top]) top = i
    const plays = counts[top]
    const cell = document.createElement('span')
    const at = `${trackTime(from * stats.segment_duration, tenths)}–${trackTime(to * stats.segment_duration, tenths)}`
    const words = `${at}: ${formatCount(plays)} plays, ${stats.segment_degradation[top].toFixed(0)}% ${worn}`
    cell.className = 'heat-cell'
    cell.dataset.from = String(from)
    cell.dataset.to = String(to)
    cell.dataset.plays = String(plays)
    cell.title = words
    cell.setAttribute('role', 'listitem')
    cell.setAttribute('aria-label', words)
    cell.style.backgroundColor = heatColour(max > 0 ? plays / max : 0)
    if (max > 0 && plays === max) {
      cell.classList.add('hottest')
      hottest ??= { at, plays, segment: top, worn: stats.segment_degradation[top] }
    }
    cells.push(cell)
  }
  strip.setAttribute('role', 'list')
  strip.setAttribute('aria-label', 'Plays of each part of the track, from its start to its end')
  strip.replaceChildren(...cells)
  return hottest
}
