/* global document, sessionStorage, fetch, XMLHttpRequest, URL, URLSearchParams, confirm, setTimeout, clearTimeout, history, location */
/**
 * The Ephemeral Audio admin page. Plain browser JavaScript, no dependencies.
 *
 * The page itself is open; everything it changes goes through the admin API
 * with `Authorization: Bearer <token>`. The token is asked for once, checked
 * with GET admin/token, and kept in sessionStorage (this tab only). A 401 on
 * any call signs out with a message. All URLs are relative to the page.
 *
 * Uploads use XMLHttpRequest, for its upload progress (fetch has none).
 *
 * Each track's Decay panel chooses its engine and the engine's parameters
 * (GET engines gives them, as JSON Schema), with a preview (GET preview) of
 * the first seconds at a chosen number of plays, then PATCHes the track.
 *
 * The Listening tab (admin-listening.js) charts the listening history.
 */
import { createListening } from './admin-listening.js'

const TOKEN_KEY = 'ephemeral-audio.admin-token'
const UNAUTHORIZED = 401
const CREATED = 201

const byId = (id) => document.getElementById(id)
const el = {
  login: byId('login'),
  loginForm: byId('login-form'),
  token: byId('token'),
  loginStatus: byId('login-status'),
  signOut: byId('sign-out'),
  workspace: byId('workspace'),
  status: byId('status'),
  drop: byId('drop'),
  files: byId('files'),
  uploadForm: byId('upload-form'),
  uploads: byId('uploads'),
  uploadStart: byId('upload-start'),
  uploadClear: byId('upload-clear'),
  list: byId('track-list'),
  count: byId('track-count'),
  empty: byId('tracks-empty'),
  refresh: byId('refresh'),
  backup: byId('backup'),
  restoreForm: byId('restore-form'),
  archive: byId('archive'),
  restoreProgress: byId('restore-progress'),
  restore: byId('restore'),
  trackTemplate: byId('track-template'),
  uploadTemplate: byId('upload-template'),
  decayTemplate: byId('decay-template'),
  paramTemplate: byId('param-template'),
  tabs: [byId('tab-library'), byId('tab-listening')]
}

/** How much audio a preview plays: the first seconds, enough to judge an engine. */
const PREVIEW_SECONDS = 10
/** A preview follows the sliders once they have been still this long (previews are rate-limited as plays). */
const PREVIEW_DELAY_MS = 300
const TOO_MANY_REQUESTS = 429

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  /** filename → track, as GET tracks last listed them. */
  tracks: new Map(),
  /** Files waiting to be uploaded (or done, or refused): { file, row, fields, status }. */
  pending: [],
  uploading: false,
  nextId: 0,
  /** GET engines: [{ id, name, description, params, defaults }], loaded once. */
  engines: null,
  /** GET /: { degradation_rate, segment_duration }, loaded with the engines. */
  service: null
}

const enc = encodeURIComponent
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`

function formatTime (seconds) {
  const s = Math.max(0, Math.round(Number.isFinite(seconds) ? seconds : 0))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

function formatPercent (value) {
  if (value === 0) return '0%'
  if (value < 1) return `${value.toFixed(2)}%`
  if (value < 10) return `${value.toFixed(1)}%`
  return `${Math.round(value)}%`
}

function formatBytes (bytes) {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

/** "WAV · 44.1 kHz · stereo · 16-bit": what the service stores, whatever was uploaded. */
function formatOf (track) {
  const channels = track.channels === 1 ? 'mono' : track.channels === 2 ? 'stereo' : `${track.channels} channels`
  const depth = `${track.bits_per_sample}-bit${track.sample_format === 'float' ? ' float' : ''}`
  return `WAV · ${track.sample_rate / 1000} kHz · ${channels} · ${depth}`
}

/** A file name as the service stores it: the same name, ending in .wav. */
function proposedName (fileName) {
  const base = [...fileName.replace(/\.[^.]*$/, '')].map(c => c < ' ' || c === '/' || c === '\\' ? '-' : c).join('').trim()
  return `${base === '' ? 'track' : base}.wav`
}

function say (text, kind = 'ok') {
  el.status.textContent = text
  el.status.className = `message banner ${kind}`
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  /** `code` is the service's error code (EA_…), when it gave one. */
  constructor (status, message, code = undefined) {
    super(message)
    this.status = status
    this.code = code
  }
}

function parsedError (body) {
  try {
    return JSON.parse(body)
  } catch {
    return null // not JSON: a proxy's page
  }
}

/** The service's own words for a refusal ({ message } of its JSON errors), else the HTTP status. */
function problemOf (status, body) {
  const problem = parsedError(body)
  if (typeof problem?.message === 'string') return problem.message
  return status === 0 ? 'the service could not be reached' : `HTTP ${status}`
}

async function api (method, url, { json, token = state.token, checking = false } = {}) {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' }
  if (json !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) })
  } catch {
    throw new ApiError(0, 'The service could not be reached: check the connection and try again.')
  }
  if (res.ok) return res
  const body = await res.text()
  const code = parsedError(body)?.code
  const error = new ApiError(res.status, problemOf(res.status, body), typeof code === 'string' ? code : undefined)
  if (res.status === UNAUTHORIZED && !checking) signOut(`Signed out: the service refused the token (${error.message}).`)
  throw error
}

/** Report a failed action in words; a refused token has already signed out. */
function failed (what, error) {
  if (error.status === UNAUTHORIZED) return
  say(`${what} failed: ${error.message}`, 'error')
}

/**
 * Send a file as the body, with the token, showing its progress; resolves to
 * { status, body } (status 0 when the connection failed). XMLHttpRequest, for
 * its upload progress.
 */
function sendFile (method, url, file, headers, progress) {
  return new Promise(resolve => {
    const xhr = new XMLHttpRequest()
    xhr.open(method, url)
    xhr.setRequestHeader('authorization', `Bearer ${state.token}`)
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value)
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) progress.value = event.loaded / event.total
    })
    xhr.addEventListener('load', () => resolve({ status: xhr.status, body: xhr.responseText }))
    xhr.addEventListener('error', () => resolve({ status: 0, body: '' }))
    xhr.send(file)
  })
}

// ---------------------------------------------------------------- signing in

function showWorkspace () {
  el.login.hidden = true
  el.workspace.hidden = false
  el.signOut.hidden = false
}

function signOut (message = '') {
  sessionStorage.removeItem(TOKEN_KEY)
  state.token = null
  listening.forget()
  el.workspace.hidden = true
  el.signOut.hidden = true
  el.login.hidden = false
  el.loginStatus.textContent = message
  el.token.value = ''
  el.token.focus()
}

async function signIn (token) {
  el.loginStatus.textContent = 'Checking the token…'
  try {
    await api('GET', 'admin/token', { token, checking: true })
  } catch (error) {
    el.loginStatus.textContent = error.status === UNAUTHORIZED
      ? 'That token was refused: it is not one of the service\'s ADMIN_TOKEN. Check it and try again.'
      : `Could not sign in: ${error.message}`
    if (error.status === UNAUTHORIZED) sessionStorage.removeItem(TOKEN_KEY)
    el.token.select()
    return false
  }
  state.token = token
  sessionStorage.setItem(TOKEN_KEY, token)
  el.loginStatus.textContent = ''
  showWorkspace()
  await loadTracks()
  selectTab(location.hash === '#listening' ? 'tab-listening' : 'tab-library')
  return true
}

el.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  const token = el.token.value.trim()
  if (token === '') {
    el.loginStatus.textContent = 'Type the admin token first.'
    return
  }
  if (await signIn(token)) byId('main').focus()
})

el.signOut.addEventListener('click', () => signOut('Signed out.'))

// ---------------------------------------------------------------- tabs

/** Settled once the tracks were first listed (or could not be): the Listening tab names them. */
let tracksListed
const tracksReady = new Promise(resolve => { tracksListed = resolve })

const listening = createListening({
  api,
  tracks: () => state.tracks,
  tracksReady: () => tracksReady,
  service: () => state.service,
  formatTime
})

/** Show one tab's panel (the Listening tab loads its figures afresh); #listening in the address reopens it. */
function selectTab (id) {
  for (const tab of el.tabs) {
    const selected = tab.id === id
    tab.setAttribute('aria-selected', String(selected))
    tab.tabIndex = selected ? 0 : -1
    byId(tab.getAttribute('aria-controls')).hidden = !selected
  }
  if (id === 'tab-listening') listening.show()
  else listening.hide()
  history.replaceState(null, '', id === 'tab-listening' ? '#listening' : location.pathname + location.search)
}

for (const [i, tab] of el.tabs.entries()) {
  tab.addEventListener('click', () => selectTab(tab.id))
  // The tab list's keys: arrows move between tabs, as in the ARIA tabs pattern.
  tab.addEventListener('keydown', (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key]
    if (step === undefined) return
    event.preventDefault()
    const next = el.tabs[(i + step + el.tabs.length) % el.tabs.length]
    selectTab(next.id)
    next.focus()
  })
}

// ---------------------------------------------------------------- tracks

/** The engines and the service's rates, once per page (again after a failure). */
async function loadEngines () {
  if (state.engines !== null) return
  try {
    const [engines, service] = await Promise.all([
      (await api('GET', 'engines')).json(),
      (await api('GET', './')).json()
    ])
    state.engines = engines
    state.service = service
  } catch (error) {
    failed('Loading the decay engines', error)
  }
}

const engineOf = (id) => state.engines?.find(engine => engine.id === id)
const engineName = (id) => engineOf(id)?.name ?? id

async function loadTracks () {
  await loadEngines()
  let list
  try {
    list = await (await api('GET', 'tracks')).json()
  } catch (error) {
    failed('Loading the tracks', error)
    tracksListed()
    return
  }
  state.tracks = new Map(list.map(track => [track.filename, track]))
  listening.tracksChanged()
  tracksListed()
  el.list.replaceChildren(...list.map(trackRow))
  el.count.textContent = String(list.length)
  el.empty.hidden = list.length > 0
}

function fieldsOf (root) {
  const fields = {}
  for (const node of root.querySelectorAll('[data-field]')) fields[node.dataset.field] = node
  return fields
}

function trackRow (track) {
  const item = el.trackTemplate.content.firstElementChild.cloneNode(true)
  const f = fieldsOf(item)
  const id = `rename-${state.nextId++}`
  item.dataset.filename = track.filename
  f.title.textContent = track.title
  f.player.textContent = track.filename
  f.player.href = `player#${enc(track.filename)}`
  f.meta.textContent = [
    formatTime(track.duration),
    formatOf(track),
    plural(track.total_plays, 'play'),
    `${formatPercent(track.overall_degradation)} ${(track.engine ?? 'dropout') === 'dropout' ? 'silenced' : 'worn'}`
  ].join(' · ')
  f.engine.textContent = `Decay: ${engineName(track.engine ?? 'dropout')}`
  const overall = Math.min(100, track.overall_degradation)
  f.bar.style.width = overall > 0 ? `max(3px, ${overall}%)` : '0'
  f['rename-label'].htmlFor = id
  f['rename-input'].id = id

  for (const button of item.querySelectorAll('[data-action]')) {
    button.setAttribute('aria-label', `${button.textContent} ${track.title}`)
  }
  item.querySelector('[data-action="rename"]').addEventListener('click', () => {
    f['rename-form'].hidden = false
    f.actions.hidden = true
    f['rename-input'].value = track.title
    f['rename-input'].select()
  })
  item.querySelector('[data-action="cancel"]').addEventListener('click', () => {
    f['rename-form'].hidden = true
    f.actions.hidden = false
  })
  f['rename-form'].addEventListener('submit', async (event) => {
    event.preventDefault()
    await rename(track, f['rename-input'].value.trim())
  })
  const decay = item.querySelector('[data-action="decay"]')
  let panel = null
  decay.addEventListener('click', () => {
    if (panel !== null) {
      panel.close()
      return
    }
    if (state.engines === null) {
      say('The decay engines could not be loaded: press Refresh to try again.', 'error')
      return
    }
    panel = decayPanel(track, () => {
      panel = null
      decay.setAttribute('aria-expanded', 'false')
      decay.focus()
    })
    decay.setAttribute('aria-controls', panel.form.id)
    decay.setAttribute('aria-expanded', 'true')
    f.actions.after(panel.form)
    panel.form.querySelector('select').focus()
  })
  item.querySelector('[data-action="reset"]').addEventListener('click', () => reset(track))
  item.querySelector('[data-action="delete"]').addEventListener('click', () => remove(track))
  return item
}

async function rename (track, title) {
  if (title === '') {
    say('A title cannot be empty.', 'error')
    return
  }
  try {
    const renamed = await (await api('PATCH', `tracks/${enc(track.filename)}`, { json: { title } })).json()
    say(`${track.filename} is now titled “${renamed.title}”.`)
  } catch (error) {
    failed(`Renaming ${track.filename}`, error)
    return
  }
  await loadTracks()
}

async function reset (track) {
  if (!confirm(`Reset “${track.title}” (${track.filename})?\n\nIts pristine audio comes back and its ${plural(track.total_plays, 'play')} are forgotten. This cannot be undone.`)) return
  try {
    const result = await (await api('POST', `reset/${enc(track.filename)}`)).json()
    say(`${track.filename} is reset: ${plural(result.total_plays, 'play')}, ${formatPercent(result.overall_degradation)} silenced.`)
  } catch (error) {
    failed(`Resetting ${track.filename}`, error)
    return
  }
  await loadTracks()
}

async function remove (track) {
  if (!confirm(`Delete “${track.title}” (${track.filename}) for good?\n\nIts audio, its pristine copy and its plays are removed. This cannot be undone.`)) return
  try {
    await api('DELETE', `tracks/${enc(track.filename)}`)
    say(`${track.filename} is deleted.`)
  } catch (error) {
    failed(`Deleting ${track.filename}`, error)
    return
  }
  await loadTracks()
}

el.refresh.addEventListener('click', async () => {
  await loadTracks()
  say(`${plural(state.tracks.size, 'track')} listed.`)
})

// ---------------------------------------------------------------- decay engines

/** How many decimals a number is written with (2.5 → 1). */
function decimalsOf (value) {
  const text = String(value ?? 0)
  return text.includes('.') && !text.includes('e') ? text.length - text.indexOf('.') - 1 : 0
}

/** The decimals a parameter's inputs step by: about a hundredth of its range, and its bounds and default exactly. */
function precisionOf (schema) {
  if (schema.type === 'integer') return 0
  const span = schema.maximum - schema.minimum
  const fine = Number.isFinite(span) && span > 0 ? 2 - Math.floor(Math.log10(span)) : 2
  return Math.min(6, Math.max(0, fine, decimalsOf(schema.minimum), decimalsOf(schema.maximum), decimalsOf(schema.default)))
}

/** Plays after which a segment is gone (fully worn): ceil(100 / degradation_rate). */
const goneAt = () => Math.max(1, Math.ceil(100 / state.service.degradation_rate))

/** One labelled range and number input per parameter of the engine's schema, synchronised. */
function paramInput (name, schema, value, onChange) {
  const row = el.paramTemplate.content.firstElementChild.cloneNode(true)
  const f = fieldsOf(row)
  const id = `param-${state.nextId++}`
  const decimals = precisionOf(schema)
  const step = decimals === 0 ? '1' : (10 ** -decimals).toFixed(decimals)
  const bounded = Number.isFinite(schema.minimum) && Number.isFinite(schema.maximum)
  f.label.textContent = name
  f.label.htmlFor = `${id}-range`
  f.range.id = `${id}-range`
  f.number.setAttribute('aria-label', `${name}, value`)
  f.description.id = `${id}-help`
  f.description.textContent = [
    schema.description?.replace(/([^.])$/, '$1.'),
    bounded ? `From ${schema.minimum} to ${schema.maximum}; default ${schema.default}.` : `Default ${schema.default}.`
  ].filter(Boolean).join(' ')
  for (const input of [f.range, f.number]) {
    input.step = step
    if (Number.isFinite(schema.minimum)) input.min = String(schema.minimum)
    if (Number.isFinite(schema.maximum)) input.max = String(schema.maximum)
    input.setAttribute('aria-describedby', f.description.id)
    input.value = String(value)
  }
  if (!bounded) {
    f.range.hidden = true
    f.label.htmlFor = f.number.id = `${id}-number`
  }
  row.dataset.param = name
  const valid = () => {
    const n = f.number.valueAsNumber
    return Number.isFinite(n) && !(n < schema.minimum) && !(n > schema.maximum)
  }
  f.range.addEventListener('input', () => {
    f.number.value = f.range.value
    f.number.removeAttribute('aria-invalid')
    onChange()
  })
  f.number.addEventListener('input', () => {
    if (valid()) {
      f.range.value = f.number.value
      f.number.removeAttribute('aria-invalid')
      onChange()
    } else {
      f.number.setAttribute('aria-invalid', 'true')
    }
  })
  return {
    row,
    valid,
    value: () => Number(f.number.valueAsNumber.toFixed(decimals))
  }
}

/**
 * A track's Decay panel: { form, close }. The preview follows the choices,
 * PREVIEW_DELAY_MS after the last change; Apply asks, then PATCHes the track.
 */
function decayPanel (track, onClose) {
  const form = el.decayTemplate.content.firstElementChild.cloneNode(true)
  const f = fieldsOf(form)
  const id = `decay-${state.nextId++}`
  const current = track.engine ?? 'dropout'
  const gone = goneAt()
  const segmentSeconds = state.service.segment_duration > 0 ? state.service.segment_duration : track.duration / track.total_segments
  const previewTo = Math.max(1, Math.min(track.total_segments, Math.ceil(PREVIEW_SECONDS / segmentSeconds)))
  let params = new Map()
  let timer
  let closed = false

  form.id = id
  form.setAttribute('aria-label', `Decay of ${track.title}`)
  f.heading.textContent = `Decay of “${track.title}”`
  f['engine-label'].htmlFor = f.engine.id = `${id}-engine`
  f.description.id = `${id}-engine-help`
  f.engine.setAttribute('aria-describedby', f.description.id)
  f.engine.append(...state.engines.map(engine => {
    const option = document.createElement('option')
    option.value = engine.id
    option.textContent = engine.id === current ? `${engine.name} (now)` : engine.name
    return option
  }))
  f.engine.value = current

  f['plays-label'].htmlFor = f.plays.id = `${id}-plays`
  f['plays-text'].id = `${id}-plays-help`
  f.plays.setAttribute('aria-describedby', f['plays-text'].id)
  f.plays.max = String(gone)
  f.plays.value = String(Math.min(gone, Math.round(track.total_plays / Math.max(1, track.total_segments))))
  f['preview-title'].textContent = `Preview: the first ${formatTime(previewTo * segmentSeconds)}, every segment at the chosen plays`
  f.audio.setAttribute('aria-label', `Preview of ${track.title}`)

  function showPlays () {
    const plays = f.plays.valueAsNumber
    const wear = Math.min(100, plays * state.service.degradation_rate)
    f['plays-text'].textContent = plays >= gone
      ? `${plural(plays, 'play')} per segment: gone (fully worn)`
      : `${plural(plays, 'play')} per segment: ${formatPercent(wear)} worn; gone at ${gone}`
  }

  function showEngine () {
    const engine = engineOf(f.engine.value)
    f.description.textContent = engine.description
    const properties = engine.params?.properties ?? {}
    const own = f.engine.value === current ? track.engine_params ?? {} : {}
    params = new Map(Object.entries(properties).map(([name, schema]) => {
      const value = own[name] ?? engine.defaults?.[name] ?? schema.default
      return [name, paramInput(name, schema, value, later)]
    }))
    f.params.replaceChildren(...[...params.values()].map(p => p.row))
    f.params.hidden = params.size === 0
  }

  function message (text, kind = '') {
    f.message.textContent = text
    f.message.className = `message ${kind}`
  }

  function previewUrl () {
    const query = new URLSearchParams({ engine: f.engine.value, plays: f.plays.value, from: '0', to: String(previewTo) })
    for (const [name, input] of params) if (input.valid()) query.set(name, String(input.value()))
    return `preview/${enc(track.filename)}?${query}`
  }

  function preview () {
    clearTimeout(timer)
    if (closed || [...params.values()].some(p => !p.valid())) return
    const url = previewUrl()
    if (f.audio.getAttribute('src') === url) return
    f.audio.src = url
    message('')
  }

  function later () {
    clearTimeout(timer)
    timer = setTimeout(preview, PREVIEW_DELAY_MS)
  }

  // A preview that does not load: the service's words, asked once more (a refusal is cheap).
  f.audio.addEventListener('error', async () => {
    const url = f.audio.getAttribute('src')
    if (closed || url === null) return
    let text = 'The preview could not be loaded.'
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' } })
      if (res.status === TOO_MANY_REQUESTS) text = 'Too many previews at once: wait a moment, then press play.'
      else if (!res.ok) text = `The preview could not be loaded: ${problemOf(res.status, await res.text())}`
      else text = 'The preview could not be played: press play to try again.'
    } catch { /* the message above */ }
    if (f.audio.getAttribute('src') === url) message(text, 'error')
  })

  f.engine.addEventListener('change', () => {
    showEngine()
    later()
  })
  f.plays.addEventListener('input', () => {
    showPlays()
    later()
  })

  function close () {
    closed = true
    clearTimeout(timer)
    f.audio.pause()
    f.audio.removeAttribute('src')
    form.remove()
    onClose()
  }
  f.close.addEventListener('click', close)
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close()
  })

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const invalid = [...params].find(([, p]) => !p.valid())
    if (invalid !== undefined) {
      message(`${invalid[0]} is out of its bounds: see the range under it.`, 'error')
      return
    }
    const engine = engineOf(f.engine.value)
    if (!confirm(`Every segment of “${track.title}” (${track.filename}) will be rendered again with ${engine.name}; its plays are kept.`)) return
    const engineParams = Object.fromEntries([...params].map(([name, p]) => [name, p.value()]))
    f.apply.disabled = true
    message(`Rendering every segment of ${track.filename} again…`)
    try {
      const changed = await (await api('PATCH', `tracks/${enc(track.filename)}`, { json: { engine: engine.id, engine_params: engineParams } })).json()
      say(`${changed.filename} now decays by ${engineName(changed.engine)}; its ${plural(changed.total_plays, 'play')} are kept.`)
    } catch (error) {
      f.apply.disabled = false
      if (error.status !== UNAUTHORIZED) message(`Not applied: ${error.message}`, 'error')
      return
    }
    close()
    await loadTracks()
  })

  showEngine()
  showPlays()
  preview()
  return { form, close }
}

// ---------------------------------------------------------------- uploads

function addFiles (files) {
  for (const file of files) {
    const row = el.uploadTemplate.content.firstElementChild.cloneNode(true)
    const fields = fieldsOf(row)
    const id = `upload-${state.nextId++}`
    fields.source.textContent = `${file.name} · ${formatBytes(file.size)}`
    fields['name-label'].htmlFor = id
    fields.name.id = id
    fields.name.value = proposedName(file.name)
    fields.progress.setAttribute('aria-label', `Upload of ${file.name}`)
    const entry = { file, row, fields, status: 'waiting' }
    row.querySelector('[data-action="remove"]').addEventListener('click', () => {
      state.pending = state.pending.filter(e => e !== entry)
      row.remove()
      showUploads()
    })
    state.pending.push(entry)
    el.uploads.append(row)
  }
  showUploads()
}

function showUploads () {
  const waiting = state.pending.filter(e => e.status === 'waiting').length
  el.uploadForm.hidden = state.pending.length === 0
  el.uploadStart.textContent = waiting > 1 ? `Upload ${waiting} files` : 'Upload'
  el.uploadStart.disabled = waiting === 0 || state.uploading
}

function rowMessage (entry, text, kind) {
  entry.fields.message.textContent = text
  entry.fields.message.className = `message ${kind}`
}

async function uploadOne (entry) {
  const name = entry.fields.name.value.trim()
  if (!/\.wav$/i.test(name) || name.length < 5) {
    rowMessage(entry, 'The name must end in .wav (the service stores every track as a WAV file).', 'error')
    entry.row.classList.add('refused')
    return
  }
  // Names that differ only in case are one name to the service: replacing means using the existing spelling.
  const existing = [...state.tracks.keys()].find(n => n.toLowerCase() === name.toLowerCase())
  if (existing !== undefined && !confirm(`${existing} already exists. Replace it with ${entry.file.name}?\n\nIts plays start again from zero.`)) {
    rowMessage(entry, 'Not uploaded: the existing track was kept. Change the name to upload it beside it.', 'error')
    return
  }
  if (existing !== undefined) entry.fields.name.value = existing
  const target = existing ?? name
  entry.status = 'sending'
  entry.fields.name.readOnly = true
  entry.row.classList.remove('refused')
  rowMessage(entry, `Uploading as ${target}…`, '')
  // Without a confirmed replacement, only create: a track uploaded meanwhile by someone else is not replaced.
  const headers = existing === undefined ? { 'if-none-match': '*' } : {}
  const { status, body } = await sendFile('PUT', `tracks/${enc(target)}`, entry.file, headers, entry.fields.progress)
  if (status === 200 || status === CREATED) {
    const track = JSON.parse(body)
    entry.status = 'done'
    entry.fields.progress.value = 1
    entry.row.classList.add('done')
    rowMessage(entry, `${status === CREATED ? 'Uploaded' : 'Replaced'}: ${track.filename}, ${formatTime(track.duration)}, ${formatOf(track)}.`, 'ok')
    return
  }
  entry.status = 'waiting'
  entry.fields.name.readOnly = false
  entry.fields.progress.value = 0
  entry.row.classList.add('refused')
  const reason = status === 0
    ? 'the connection was lost (the file may be larger than the service accepts, or the service is down)'
    : problemOf(status, body)
  rowMessage(entry, `Refused: ${reason}`, 'error')
  if (status === UNAUTHORIZED) signOut(`Signed out: the service refused the token (${reason}).`)
}

el.uploadForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  if (state.uploading) return
  state.uploading = true
  showUploads()
  const batch = state.pending.filter(e => e.status === 'waiting')
  // One at a time: each file is decoded by the service, and the list shows each as it lands.
  for (const entry of batch) {
    if (state.token === null) break
    await uploadOne(entry)
    if (entry.status === 'done') await loadTracks()
  }
  state.uploading = false
  showUploads()
  const done = batch.filter(e => e.status === 'done').length
  const refused = batch.length - done
  say(`${plural(done, 'file')} uploaded${refused > 0 ? `, ${refused} not: see the messages under the files` : ''}.`, refused > 0 ? 'error' : 'ok')
})

el.uploadClear.addEventListener('click', () => {
  state.pending = state.pending.filter(e => e.status === 'sending')
  for (const row of [...el.uploads.children]) if (!state.pending.some(e => e.row === row)) row.remove()
  showUploads()
})

el.files.addEventListener('change', () => {
  addFiles([...el.files.files])
  // The same file can be chosen again after its row is removed.
  el.files.value = ''
})

for (const type of ['dragenter', 'dragover']) {
  el.drop.addEventListener(type, (event) => {
    event.preventDefault()
    event.dataTransfer.dropEffect = 'copy'
    el.drop.classList.add('over')
  })
}
el.drop.addEventListener('dragleave', (event) => {
  if (!el.drop.contains(event.relatedTarget)) el.drop.classList.remove('over')
})
el.drop.addEventListener('drop', (event) => {
  event.preventDefault()
  el.drop.classList.remove('over')
  addFiles([...event.dataTransfer.files])
})
// A file dropped beside the zone would replace the page with it.
document.addEventListener('dragover', (event) => event.preventDefault())
document.addEventListener('drop', (event) => event.preventDefault())

// ---------------------------------------------------------------- backup and restore

el.backup.addEventListener('click', async () => {
  el.backup.disabled = true
  say('Preparing the backup…')
  try {
    const res = await api('GET', 'admin/backup')
    const name = /filename=([^;]+)/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'ephemeral-audio.tar.gz'
    const blob = await res.blob()
    const link = document.createElement('a')
    link.href = URL.createObjectURL(blob)
    link.download = name
    document.body.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000)
    say(`Backup downloaded: ${name} (${formatBytes(blob.size)}).`)
  } catch (error) {
    failed('The backup', error)
  } finally {
    el.backup.disabled = false
  }
})

el.restoreForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  const file = el.archive.files[0]
  if (file === undefined) {
    say('Choose an archive to restore first.', 'error')
    el.archive.focus()
    return
  }
  const mode = el.restoreForm.elements.mode.value
  if (mode === 'replace' && !confirm('Restore and replace? Tracks that exist in the backup are replaced by its copies, with its plays.')) return
  el.restore.disabled = true
  el.restoreProgress.hidden = false
  el.restoreProgress.value = 0
  say(`Restoring from ${file.name}…`)
  const { status, body } = await sendFile('POST', `admin/restore?mode=${mode}`, file, {}, el.restoreProgress)
  el.restore.disabled = false
  el.restoreProgress.hidden = true
  if (status === 200) {
    const { restored, skipped } = JSON.parse(body)
    say(`Restored ${plural(restored.length, 'track')}${skipped.length > 0 ? `; kept ${skipped.length} that already existed: ${skipped.join(', ')}` : ''}.`)
    el.archive.value = ''
    await loadTracks()
    return
  }
  const reason = status === 0 ? 'the connection was lost' : problemOf(status, body)
  if (status === UNAUTHORIZED) signOut(`Signed out: the service refused the token (${reason}).`)
  else say(`The restore failed: ${reason}. Nothing was changed.`, 'error')
})

// ---------------------------------------------------------------- start

if (state.token === null) {
  el.login.hidden = false
} else {
  // A token from earlier in this tab: checked again, as it may have been revoked.
  signIn(state.token)
}
