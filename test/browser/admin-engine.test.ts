/**
 * The admin page's Decay panel in a real browser (Debian's chromium, headless):
 * the artist chooses a track's engine and its parameters, hears a preview at a
 * chosen number of plays (a real GET /preview, loaded by the audio element),
 * and applies it after a confirmation; dismissing the confirmation changes
 * nothing. Checked through the API: the engine and parameter changed, the
 * plays did not.
 */
import t from 'tap'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { buildTestApp, listen } from '../helper.js'
import { answerDialogs, row, signIn, watch } from './admin-helpers.js'
import { ARTIFACTS, openBrowser } from './chromium.js'

// The page.evaluate callbacks run in the browser; this is all they use of it, declared for the type checker.
declare const document: {
  querySelector: (selector: string) => { readyState: number, src: string, error: { code: number } | null } | null
  documentElement: { scrollWidth: number }
}

const TOKEN = 'admin-engine-test-token'
const SECONDS = 12
const PHONE_WIDTH = 375

interface Track { engine: string, engine_params: Record<string, number>, total_plays: number, total_segments: number, segment_play_counts?: number[] }

t.test('the artist previews a track worn by tape and applies it from the Decay panel', async t => {
  const { app } = await buildTestApp(t, {
    env: { ADMIN_TOKEN: TOKEN, DEGRADE_RATE_LIMIT: 5 },
    tracks: { 'song.wav': { channels: 2, sampleRate: 44100, frames: 44100 * SECONDS } }
  })
  const base = await listen(app)
  const service = (await app.inject('/')).json() as { degradation_rate: number, segment_duration: number }
  const gone = Math.ceil(100 / service.degradation_rate)
  const previewTo = Math.ceil(10 / service.segment_duration)
  for (const segment of [0, 1, 2]) {
    const played = await app.inject({ method: 'POST', url: '/degrade/song.wav', payload: { segment_index: segment } })
    t.equal(played.statusCode, 200, `segment ${segment} played`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  const track = async () => (await app.inject('/tracks/song.wav')).json() as Track
  const before = await track()
  t.equal(before.total_plays, 3)
  t.equal(before.engine, 'dropout')

  const context = await openBrowser(t, { width: 1100, height: 900 })
  const { page, errors, failedLoads } = watch(await context.newPage())
  const dialogs = answerDialogs(page)
  const previews: Array<{ url: URL, status: number, type: string }> = []
  page.on('response', response => {
    const url = new URL(response.url())
    if (url.pathname.startsWith('/preview/')) previews.push({ url, status: response.status(), type: response.headers()['content-type'] ?? '' })
  })
  await signIn(page, base, TOKEN)

  // The row names the engine; the Decay button opens the panel with the track's engine chosen.
  const song = row(page, 'song.wav')
  t.equal(await song.locator('.track-engine').textContent(), 'Decay: Dropout', 'the row names its engine')
  await page.getByRole('button', { name: 'Decay song' }).click()
  const panel = song.locator('form.decay')
  await panel.waitFor()
  t.equal(await page.getByRole('button', { name: 'Decay song' }).getAttribute('aria-expanded'), 'true')
  const engine = panel.getByLabel('Engine')
  t.equal(await engine.inputValue(), 'dropout', 'the track\'s engine is chosen')
  const engines = (await app.inject('/engines')).json() as Array<{ id: string, description: string, defaults: Record<string, number>, params: { properties: Record<string, { minimum: number, maximum: number }> } }>
  t.same(await engine.locator('option').evaluateAll(options => options.map(o => (o as unknown as { value: string }).value)), engines.map(e => e.id), 'every engine is offered')
  const plays = panel.getByLabel('Plays')
  t.equal(await plays.getAttribute('max'), String(gone), 'the plays slider ends where a segment is gone')

  // Tape: its description, and one labelled input per parameter, at its defaults.
  await engine.selectOption('tape')
  const tape = engines.find(e => e.id === 'tape')!
  t.equal(await panel.locator('[id$="-engine-help"]').textContent(), tape.description, 'the engine\'s description shows')
  t.same(await panel.locator('.decay-param').evaluateAll(rows => rows.map(r => (r as unknown as { dataset: { param: string } }).dataset.param)),
    Object.keys(tape.params.properties), 'one input per parameter')
  const cutoff = panel.getByLabel('finalCutoff', { exact: true })
  t.equal(await cutoff.inputValue(), String(tape.defaults.finalCutoff), 'at its default')
  t.equal(await cutoff.getAttribute('min'), String(tape.params.properties.finalCutoff!.minimum))
  t.equal(await cutoff.getAttribute('max'), String(tape.params.properties.finalCutoff!.maximum))

  // A parameter and the plays change; the preview follows once they settle, debounced.
  const loadedBefore = previews.length
  await cutoff.fill('1200')
  await plays.focus()
  for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowRight')
  await plays.fill('60')
  await panel.locator('[id$="-plays-help"]', { hasText: '60 plays per segment' }).waitFor()
  const audio = panel.locator('audio')
  await page.waitForFunction(() => /[?&]plays=60\b/.test(document.querySelector('form.decay audio')?.src ?? ''))
  const src = new URL(await audio.evaluate(a => (a as unknown as { src: string }).src))
  t.equal(src.pathname, '/preview/song.wav', 'the audio plays a preview')
  const expected = { engine: 'tape', plays: '60', from: '0', to: String(previewTo), finalCutoff: '1200' }
  t.same(Object.fromEntries(src.searchParams), { ...expected, drive: String(tape.defaults.drive), hiss: String(tape.defaults.hiss), levelLoss: String(tape.defaults.levelLoss) }, 'with the chosen engine, parameters, plays and the first 10 s')
  await page.waitForFunction(() => (document.querySelector('form.decay audio')?.readyState ?? 0) >= 1, null, { timeout: 15_000 })
  const loaded = previews.filter(p => p.url.searchParams.get('plays') === '60' && p.url.searchParams.get('finalCutoff') === '1200')
  t.ok(loaded.some(p => p.status === 200 && p.type === 'audio/wav'), 'the preview loaded: 200 audio/wav')
  t.ok(previews.length - loadedBefore <= 3, `the changes were debounced: ${previews.length - loadedBefore} preview requests for ten changes`)
  t.ok(previews.every(p => p.status !== 429), 'never rate-limited')
  const played = await audio.evaluate(async a => {
    const media = a as unknown as { play: () => Promise<void>, pause: () => void, currentTime: number }
    await media.play()
    await new Promise(resolve => setTimeout(resolve, 400))
    media.pause()
    return media.currentTime
  })
  t.ok(played > 0, 'and it plays')

  // Dismissed: nothing changes.
  dialogs.answers.push(false)
  await panel.getByRole('button', { name: 'Apply' }).click()
  t.equal(dialogs.asked.at(-1), 'Every segment of “song” (song.wav) will be rendered again with Tape; its plays are kept.', 'the confirmation says what happens')
  t.match(await track(), { engine: 'dropout', total_plays: 3 }, 'dismissed: the track is as it was')
  t.ok(await panel.isVisible(), 'the panel stays open')

  // The panel works at phone width.
  await page.setViewportSize({ width: PHONE_WIDTH, height: 812 })
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  t.ok(width <= PHONE_WIDTH, `no sideways scrolling at ${PHONE_WIDTH} px with the panel open (the page is ${width} px wide)`)
  await mkdir(ARTIFACTS, { recursive: true })
  await panel.screenshot({ path: join(ARTIFACTS, 'admin-decay-phone.png') })
  await page.setViewportSize({ width: 1100, height: 900 })

  // Accepted: PATCH re-renders the track with tape and the new cutoff; its plays are kept.
  dialogs.answers.push(true)
  await panel.getByRole('button', { name: 'Apply' }).click()
  await page.locator('#status', { hasText: 'song.wav now decays by Tape' }).waitFor({ timeout: 20_000 })
  const after = await track()
  t.equal(after.engine, 'tape', 'the engine changed')
  t.match(after.engine_params, { finalCutoff: 1200 }, 'and the parameter')
  t.equal(after.total_plays, before.total_plays, 'total_plays is unchanged')
  await song.locator('.track-engine', { hasText: 'Decay: Tape' }).waitFor()
  t.match(await song.locator('.track-meta').textContent(), '3 plays', 'the list is refreshed')
  t.equal(await song.locator('form.decay').count(), 0, 'the panel closed')

  // Opened again: the track's own engine and values.
  await page.getByRole('button', { name: 'Decay song' }).click()
  t.equal(await panel.getByLabel('Engine').inputValue(), 'tape')
  t.equal(await panel.getByLabel('finalCutoff', { exact: true }).inputValue(), '1200', 'the track\'s parameter, not the default')

  t.same(errors, [], 'no console errors')
  t.same(failedLoads, [], 'nor failed loads')
})
