/**
 * The admin page in a real browser: Debian's chromium, headless, driven by
 * playwright-core, against a real listening server with ADMIN_TOKEN set.
 * The artist signs in, uploads a real FLAC and a real MP3 (made by ffmpeg)
 * through the file picker, both at once, sees them listed; a listener plays
 * one on /player; the artist renames, resets, deletes, backs up and restores,
 * and a refused upload and a wrong token show the service's words.
 *
 * Screenshots go to test-artifacts/ (gitignored). With ADMIN_DOCS_SCREENSHOT=1
 * the desktop one also rewrites docs/admin.png, the README's picture.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildTestApp, listen } from '../helper.js'
import { answerDialogs, row, TOKEN_KEY, watch } from './admin-helpers.js'
import { ARTIFACTS, DOCS, openBrowser } from './chromium.js'

// The page.evaluate callbacks run in the browser; this is all they use of it, declared for the type checker.
declare const document: {
  querySelector: (selector: 'audio') => { currentTime: number, paused: boolean } | null
  documentElement: { scrollWidth: number }
}
declare const sessionStorage: { getItem: (key: string) => string | null }

const run = promisify(execFile)
const TOKEN = 'admin-page-test-token'
const PHONE_WIDTH = 375

/** Real encoded audio, as an artist would have it: ffmpeg's sine, encoded to FLAC and MP3 (a test oracle; the service decodes on its own). */
async function makeAudio (dir: string) {
  const ffmpeg = async (...args: string[]) => await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args])
  const flac = join(dir, 'Morning Song.flac')
  const mp3 = join(dir, 'take-2.mp3')
  const notAudio = join(dir, 'notes.mp3')
  await ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440:duration=3:sample_rate=44100', '-ac', '2', '-sample_fmt', 's16', flac)
  await ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=660:duration=2:sample_rate=44100', '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '128k', mp3)
  await writeFile(notAudio, 'Lyrics, second verse: not audio at all, whatever its name says.\n')
  return { flac, mp3, notAudio }
}

t.test('the artist manages the library from /admin, and a listener plays what was uploaded', async t => {
  const { app } = await buildTestApp(t, { env: { ADMIN_TOKEN: `other-token,${TOKEN}`, DEGRADE_RATE_LIMIT: 0 } })
  const base = await listen(app)
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-admin-page-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const files = await makeAudio(dir)
  await mkdir(ARTIFACTS, { recursive: true })

  const context = await openBrowser(t, { width: 1100, height: 900 })
  const admin = watch(await context.newPage())
  const page = admin.page
  const dialogs = answerDialogs(page)
  const authorizations: string[] = []
  page.on('request', request => {
    const path = request.url().slice(base.length)
    if (/^\/(tracks|reset\/|admin\/(token|backup|restore))/.test(path)) authorizations.push(`${request.method()} ${path} ${request.headers().authorization ?? '-'}`)
  })

  // The page loads with no token; a wrong one is refused in words, and nothing opens.
  await page.goto(`${base}/admin`)
  await page.getByLabel('Admin token').fill('not-the-token')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#login-status', { hasText: 'refused' }).waitFor()
  t.match(await page.locator('#login-status').textContent(), 'That token was refused: it is not one of the service\'s ADMIN_TOKEN', 'a wrong token: a clear message')
  t.ok(await page.locator('#workspace').isHidden(), 'and the workspace stays closed')
  t.equal(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY), null, 'a refused token is not kept')

  // The right one (the second of ADMIN_TOKEN's list) opens the page, and stays for the tab.
  await page.getByLabel('Admin token').fill(TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#workspace').waitFor()
  t.equal(await page.locator('#track-count').textContent(), '0', 'no tracks yet')
  t.equal(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY), TOKEN, 'the token is kept in sessionStorage')
  await page.reload()
  await page.locator('#workspace').waitFor()
  t.ok(await page.locator('#login').isHidden(), 'a reload does not ask again')

  // Two files at once through the file picker: each gets a proposed .wav name and a progress bar.
  await page.setInputFiles('#files', [files.flac, files.mp3])
  t.same(await page.locator('#uploads input[type="text"]').evaluateAll(inputs => inputs.map(i => (i as unknown as { value: string }).value)),
    ['Morning Song.wav', 'take-2.wav'], 'song.flac is proposed as song.wav')
  await page.getByLabel('Save as').first().fill('morning.wav')
  await page.getByRole('button', { name: 'Upload 2 files' }).click()
  await page.locator('#status', { hasText: '2 files uploaded' }).waitFor({ timeout: 20_000 })
  const messages = await page.locator('#uploads .message').allTextContents()
  t.same(messages, [
    'Uploaded: morning.wav, 0:03, WAV · 44.1 kHz · stereo · 16-bit.',
    'Uploaded: take-2.wav, 0:02, WAV · 44.1 kHz · mono · 16-bit.'
  ], 'each file says where it landed and what it became')
  t.same(await page.locator('#uploads progress').evaluateAll(bars => bars.map(b => (b as unknown as { value: number }).value)), [1, 1], 'both progress bars are full')

  // Listed, with duration, format, plays and wear, as the service has them.
  t.equal(await page.locator('#track-count').textContent(), '2')
  t.match(await row(page, 'morning.wav').locator('.track-meta').textContent(), '0:03 · WAV · 44.1 kHz · stereo · 16-bit · 0 plays · 0% silenced')
  t.match(await row(page, 'take-2.wav').locator('.track-meta').textContent(), '0:02 · WAV · 44.1 kHz · mono · 16-bit · 0 plays · 0% silenced')
  const listed = (await app.inject('/tracks')).json() as Array<{ filename: string, duration: number, channels: number, sample_rate: number }>
  t.match(listed, [{ filename: 'morning.wav', channels: 2, sample_rate: 44100 }, { filename: 'take-2.wav', channels: 1, sample_rate: 44100 }], 'the service stored both')
  t.ok(Math.abs(listed[0]!.duration - 3) < 0.01 && Math.abs(listed[1]!.duration - 2) < 0.01, 'with the sources\' durations (the MP3 without encoder delay)')

  // A listener plays the FLAC on /player: plays are posted and recorded.
  const listener = watch(await context.newPage())
  let posted = 0
  listener.page.on('request', request => { if (request.method() === 'POST' && request.url().endsWith('/degrade/morning.wav')) posted++ })
  await listener.page.goto(`${base}/player#morning.wav`)
  await listener.page.locator('#waveform[data-peaks-length]').waitFor()
  await listener.page.click('#play')
  await listener.page.waitForFunction(() => document.querySelector('audio')!.currentTime >= 1.2, null, { timeout: 10_000 })
  await listener.page.click('#play')
  await listener.page.waitForFunction(() => document.querySelector('audio')!.paused)
  const stats = async () => (await app.inject('/stats/morning.wav')).json() as { total_plays: number, overall_degradation: number }
  for (let i = 0; i < 100 && (await stats()).total_plays < posted; i++) await new Promise(resolve => setTimeout(resolve, 50))
  const played = await stats()
  t.ok(posted >= 3 && played.total_plays === posted, `the player posted ${posted} plays and the service recorded them`)
  t.same(listener.errors, [], 'no console errors on the player')
  t.same(listener.failedLoads, [], 'nor failed loads')

  // The admin page shows them after a refresh, with a wear bar.
  await page.getByRole('button', { name: 'Refresh' }).click()
  await row(page, 'morning.wav').locator('.track-meta', { hasText: `${played.total_plays} plays` }).waitFor()
  const bar = await row(page, 'morning.wav').locator('.wear > span').boundingBox()
  t.ok(bar !== null && bar.width >= 3, 'the wear bar shows')

  // Rename: the title changes, the file name stays.
  await page.getByRole('button', { name: 'Rename take-2' }).click()
  await row(page, 'take-2.wav').getByLabel('New title').fill('Second take, worn')
  await row(page, 'take-2.wav').getByRole('button', { name: 'Save' }).click()
  await row(page, 'take-2.wav').locator('.track-name', { hasText: 'Second take, worn' }).waitFor()
  t.equal(((await app.inject('/tracks/take-2.wav')).json() as { title: string }).title, 'Second take, worn', 'PATCH set the title')
  await page.getByRole('button', { name: 'Rename morning' }).click()
  await row(page, 'morning.wav').getByLabel('New title').fill('Morning Song')
  await row(page, 'morning.wav').getByRole('button', { name: 'Save' }).click()
  await row(page, 'morning.wav').locator('.track-name', { hasText: 'Morning Song' }).waitFor()

  await page.screenshot({ path: join(ARTIFACTS, 'admin-desktop.png'), fullPage: true })
  if (process.env.ADMIN_DOCS_SCREENSHOT === '1') {
    await mkdir(DOCS, { recursive: true })
    await copyFile(join(ARTIFACTS, 'admin-desktop.png'), join(DOCS, 'admin.png'))
  }

  // A refused upload shows the service's own message, and nothing is listed.
  const refusal = await fetch(`${base}/tracks/notes.wav`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: 'x' })
  const { message: notAudio } = await refusal.json() as { message: string }
  await page.getByRole('button', { name: 'Clear the list' }).click()
  await page.setInputFiles('#files', files.notAudio)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await page.locator('#uploads .message.error').waitFor()
  t.equal(await page.locator('#uploads .message').textContent(), `Refused: ${notAudio}`, 'a text file named .mp3: the 415\'s message, in words')
  t.match(await page.locator('#status').textContent(), '0 files uploaded, 1 not')
  t.equal(await page.locator('#track-count').textContent(), '2', 'nothing was added')

  // Reset, after a confirmation: the plays are gone.
  dialogs.answers.push(false)
  await page.getByRole('button', { name: 'Reset Morning Song' }).click()
  t.equal((await stats()).total_plays, played.total_plays, 'dismissed: nothing was reset')
  dialogs.answers.push(true)
  await page.getByRole('button', { name: 'Reset Morning Song' }).click()
  await page.locator('#status', { hasText: 'morning.wav is reset' }).waitFor()
  t.match(dialogs.asked.at(-1), `its ${played.total_plays} plays are forgotten`, 'the confirmation says what is lost')
  t.equal((await stats()).total_plays, 0, 'POST /reset ran')
  t.match(await row(page, 'morning.wav').locator('.track-meta').textContent(), '0 plays · 0% silenced')

  // A backup, downloaded through the page.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download a backup' }).click()])
  const archive = join(dir, download.suggestedFilename())
  await download.saveAs(archive)
  t.match(download.suggestedFilename(), /^ephemeral-audio-\d{4}-\d\d-\d\d\.tar\.gz$/, 'the archive keeps the service\'s file name')
  await page.locator('#status', { hasText: 'Backup downloaded' }).waitFor()

  // Delete, after a confirmation.
  dialogs.answers.push(false)
  await page.getByRole('button', { name: 'Delete Second take, worn' }).click()
  t.equal((await app.inject('/tracks/take-2.wav')).statusCode, 200, 'dismissed: nothing was deleted')
  dialogs.answers.push(true)
  await page.getByRole('button', { name: 'Delete Second take, worn' }).click()
  await page.locator('#status', { hasText: 'take-2.wav is deleted' }).waitFor()
  t.match(dialogs.asked.at(-1), 'for good')
  t.equal((await app.inject('/tracks/take-2.wav')).statusCode, 404, 'DELETE ran')
  t.equal(await row(page, 'take-2.wav').count(), 0, 'and the list no longer shows it')

  // Restore the backup (merge): the deleted track comes back, the other is kept.
  await page.setInputFiles('#archive', archive)
  await page.getByRole('button', { name: 'Restore', exact: true }).click()
  await page.locator('#status', { hasText: 'Restored 1 track' }).waitFor({ timeout: 20_000 })
  t.match(await page.locator('#status').textContent(), 'kept 1 that already existed: morning.wav')
  await row(page, 'take-2.wav').waitFor()

  // Uploading over an existing track (in another case, one name to the service) asks first; yes replaces it.
  await page.getByRole('button', { name: 'Clear the list' }).click()
  await page.setInputFiles('#files', files.mp3)
  await page.getByLabel('Save as').fill('MORNING.wav')
  dialogs.answers.push(false)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await page.locator('#uploads .message', { hasText: 'the existing track was kept' }).waitFor()
  dialogs.answers.push(true)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await page.locator('#uploads .message', { hasText: 'Replaced: morning.wav, 0:02' }).waitFor()
  t.match(dialogs.asked.at(-1), 'morning.wav already exists. Replace it with take-2.mp3?')
  t.match((await app.inject('/tracks/morning.wav')).json(), { channels: 1, duration: 2 }, 'the MP3 replaced the FLAC, under the existing name')
  await row(page, 'morning.wav').locator('.track-meta', { hasText: 'mono' }).waitFor()

  // Files dropped on the zone join the list as the picker's do.
  await page.getByRole('button', { name: 'Clear the list' }).click()
  const dropped = await page.evaluateHandle(() => {
    const { DataTransfer, File } = globalThis as unknown as { DataTransfer: new () => { items: { add: (file: unknown) => void } }, File: new (parts: string[], name: string) => unknown }
    const transfer = new DataTransfer()
    transfer.items.add(new File(['fLaC'], 'Evening.flac'))
    transfer.items.add(new File(['ID3'], 'night.MP3'))
    return transfer
  })
  await page.dispatchEvent('#drop', 'dragover', { dataTransfer: dropped })
  t.match(await page.locator('#drop').getAttribute('class'), /\bover\b/, 'the zone lights up under a drag')
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dropped })
  t.same(await page.locator('#uploads input[type="text"]').evaluateAll(inputs => inputs.map(i => (i as unknown as { value: string }).value)),
    ['Evening.wav', 'night.wav'], 'dropped files are listed with their proposed names')
  t.equal(await page.getByRole('button', { name: 'Upload 2 files' }).count(), 1)

  // A phone: everything fits in 375 px, no sideways scrolling.
  await page.setViewportSize({ width: PHONE_WIDTH, height: 812 })
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  t.ok(width <= PHONE_WIDTH, `no sideways scrolling at ${PHONE_WIDTH} px (the page is ${width} px wide)`)
  await page.screenshot({ path: join(ARTIFACTS, 'admin-phone.png'), fullPage: true })
  await page.setViewportSize({ width: 1100, height: 900 })

  // Signing out forgets the token.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.locator('#login').waitFor()
  t.equal(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY), null, 'signed out: the token is gone')

  t.same(authorizations.filter(line => line.endsWith(' -')), [], 'every API call from the page carried the token')
  t.ok(authorizations.some(line => line.startsWith('PUT /tracks/morning.wav') && line.endsWith(`Bearer ${TOKEN}`)), 'uploads send it as Bearer')
  t.same(admin.errors, [], 'no console errors on the admin page')
  t.same(admin.failedLoads.sort(), [`401 ${base}/admin/token`, `415 ${base}/tracks/notes.wav`],
    'the only failed loads are the ones the test caused: the wrong token and the text file')
})

t.test('a saved token that no longer works signs out with a message', async t => {
  const { app } = await buildTestApp(t, { env: { ADMIN_TOKEN: TOKEN } })
  const base = await listen(app)
  const context = await openBrowser(t)
  const { page, errors, failedLoads } = watch(await context.newPage())
  await page.goto(`${base}/admin`)
  await page.evaluate(([key]) => (globalThis as unknown as { sessionStorage: { setItem: (k: string, v: string) => void } }).sessionStorage.setItem(key!, 'revoked-token'), [TOKEN_KEY])
  await page.reload()
  await page.locator('#login-status', { hasText: 'refused' }).waitFor()
  t.ok(await page.locator('#workspace').isHidden(), 'the workspace stays closed')
  t.equal(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY), null, 'the revoked token is forgotten')
  t.same(errors, [], 'no console errors')
  t.same(failedLoads, [`401 ${base}/admin/token`], 'but the refused check')
})

t.test('an upload larger than UPLOAD_MAX_BYTES is refused in words', async t => {
  const { app } = await buildTestApp(t, { env: { ADMIN_TOKEN: TOKEN, UPLOAD_MAX_BYTES: 4096 } })
  const base = await listen(app)
  const dir = await mkdtemp(join(tmpdir(), 'ephemeral-admin-page-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const { flac } = await makeAudio(dir)
  const context = await openBrowser(t)
  const { page, errors, failedLoads } = watch(await context.newPage())
  await page.goto(`${base}/admin`)
  await page.getByLabel('Admin token').fill(TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#workspace').waitFor()
  await page.setInputFiles('#files', flac)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await page.locator('#uploads .message.error').waitFor()
  t.equal(await page.locator('#uploads .message').textContent(), 'Refused: The upload is larger than 4096 bytes (UPLOAD_MAX_BYTES)', 'the 413\'s message')
  t.same(errors, [], 'no console errors')
  t.same(failedLoads, [`413 ${base}/tracks/Morning%20Song.wav`])
})
