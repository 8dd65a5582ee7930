/* global document, sessionStorage, fetch, XMLHttpRequest, URL, confirm, setTimeout */
/**
 * The Ephemeral Audio admin page. Plain browser JavaScript, no dependencies.
 *
 * The page itself is open; everything it changes goes through the admin API
 * with `Authorization: Bearer <token>`. The token is asked for once, checked
 * with GET admin/token, and kept in sessionStorage (this tab only). A 401 on
 * any call signs out with a message. All URLs are relative to the page.
 *
 * Uploads use XMLHttpRequest, for its upload progress (fetch has none).
 */

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
  uploadTemplate: byId('upload-template')
}

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  /** filename → track, as GET tracks last listed them. */
  tracks: new Map(),
  /** Files waiting to be uploaded (or done, or refused): { file, row, fields, status }. */
  pending: [],
  uploading: false,
  nextId: 0
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
  constructor (status, message) {
    super(message)
    this.status = status
  }
}

/** The service's own words for a refusal ({ message } of its JSON errors), else the HTTP status. */
function problemOf (status, body) {
  try {
    const problem = JSON.parse(body)
    if (typeof problem?.message === 'string') return problem.message
  } catch { /* not JSON: a proxy's page */ }
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
  const error = new ApiError(res.status, problemOf(res.status, await res.text()))
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

// ---------------------------------------------------------------- tracks

async function loadTracks () {
  let list
  try {
    list = await (await api('GET', 'tracks')).json()
  } catch (error) {
    failed('Loading the tracks', error)
    return
  }
  state.tracks = new Map(list.map(track => [track.filename, track]))
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
    `${formatPercent(track.overall_degradation)} silenced`
  ].join(' · ')
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
