/**
 * The player in a real browser: Debian's chromium, headless, driven by
 * playwright-core. One page listens (plays, seeks, replays), a second page
 * only watches; both must agree with what the server recorded.
 *
 * Screenshots go to test-artifacts/ (gitignored). With PLAYER_DOCS_SCREENSHOT=1
 * the last test also rewrites docs/player.png, the README's picture.
 */
import t from 'tap'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { buildTestApp, listen, type TapTest } from '../helper.js'
import type { PlayEvent } from '../../schemas/events.js'

// The page.evaluate callbacks run in the browser; this is all they use of its DOM, declared for the type checker
// (a DOM lib reference would leak into the whole program).
interface PageAudio { currentTime: number, paused: boolean, seeking: boolean }
interface PageCanvas {
  width: number
  height: number
  getContext: (kind: '2d') => { getImageData: (x: number, y: number, w: number, h: number) => { data: Uint8ClampedArray, width: number, height: number } } | null
}
declare const document: {
  querySelector: ((selector: 'audio') => PageAudio | null) & ((selector: 'canvas') => PageCanvas | null)
  querySelectorAll: (selector: string) => { length: number }
  documentElement: { scrollWidth: number }
}

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'
]
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url))

const NAME = 'tone.wav'
const RATE = 8000
const SECONDS = 6
const SEGMENT = 0.5
const DEGRADATION = 20
const SEGMENTS = SECONDS / SEGMENT

/** A fresh profile per run (launchPersistentContext is how playwright takes --user-data-dir). */
async function openBrowser (t: TapTest): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), 'ephemeral-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1100, height: 820 },
    deviceScaleFactor: 1
  })
  t.teardown(async () => {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  })
  return context
}

interface Watched { page: Page, errors: string[], posted: number[], streamStatuses: Array<{ range: string | undefined, status: number }> }

async function openPlayer (context: BrowserContext, base: string): Promise<Watched> {
  const page = await context.newPage()
  const watched: Watched = { page, errors: [], posted: [], streamStatuses: [] }
  page.on('console', message => { if (message.type() === 'error') watched.errors.push(message.text()) })
  page.on('pageerror', error => watched.errors.push(error.message))
  page.on('request', request => {
    if (request.method() === 'POST' && request.url().includes('/degrade/')) {
      watched.posted.push((JSON.parse(request.postData() ?? '{}') as { segment_index: number }).segment_index)
    }
  })
  page.on('response', response => {
    if (response.url().includes('/stream/')) watched.streamStatuses.push({ range: response.request().headers().range, status: response.status() })
  })
  await page.goto(`${base}/player`)
  await page.locator('#live-state', { hasText: 'live' }).waitFor()
  await page.locator('#waveform[data-peaks-length]').waitFor()
  return watched
}

const currentTime = async (page: Page) => await page.evaluate(() => document.querySelector('audio')!.currentTime)

/** Play from where the audio is until it reaches `until` seconds, then pause; returns where it stopped. */
async function playUntil (page: Page, until: number): Promise<number> {
  await page.click('#play')
  await page.waitForFunction((s) => document.querySelector('audio')!.currentTime >= s, until, { timeout: 10_000 })
  await page.click('#play')
  await page.waitForFunction(() => document.querySelector('audio')!.paused)
  return await currentTime(page)
}

async function eventually (check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

const segmentAt = (seconds: number) => Math.min(SEGMENTS - 1, Math.floor(seconds / SEGMENT))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Per segment, whether the wear strip along the bottom of the canvas has a red bar (and the top a red tint). */
async function wornSegments (page: Page): Promise<boolean[]> {
  return await page.evaluate((segments) => {
    const canvas = document.querySelector('canvas')!
    const ctx = canvas.getContext('2d')!
    const bottom = ctx.getImageData(0, canvas.height - 1, canvas.width, 1).data
    const top = ctx.getImageData(0, 0, canvas.width, 1).data
    // Three columns per segment, so the 2-pixel playhead cannot hide one.
    return Array.from({ length: segments }, (_, s) => [0.3, 0.5, 0.7].filter(f => {
      const p = Math.floor((s + f) / segments * canvas.width) * 4
      return bottom[p]! > 200 && bottom[p + 1]! < 130 && top[p]! - top[p + 1]! > 12
    }).length >= 2)
  }, SEGMENTS)
}

/** Share of canvas columns with waveform pixels (the teal or slate bars) on them. */
async function drawnColumns (page: Page): Promise<number> {
  return await page.evaluate(() => {
    const canvas = document.querySelector('canvas')!
    const { data, width, height } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height)
    let drawn = 0
    for (let x = 0; x < width; x++) {
      for (let y = 0; y < height; y++) {
        const p = (y * width + x) * 4
        const [r, g, b] = [data[p]!, data[p + 1]!, data[p + 2]!]
        // Teal (played) or slate (ahead): blue-green above red; the background is near black.
        if (g > 80 && b > 80 && g >= r) { drawn++; break }
      }
    }
    return drawn / width
  })
}

function percent (value: number): string {
  if (value === 0) return '0%'
  if (value < 1) return `${value.toFixed(2)}%`
  if (value < 10) return `${value.toFixed(1)}%`
  return `${Math.round(value)}%`
}

t.test('the player reports what is heard, once per listen, and a second page follows live', async t => {
  const { app } = await buildTestApp(t, {
    tracks: { [NAME]: { sampleRate: RATE, frames: RATE * SECONDS } },
    env: { DEGRADATION_RATE: DEGRADATION, SEGMENT_DURATION: SEGMENT }
  })
  const recorded: PlayEvent[] = []
  app.degrader.events.on('play', e => recorded.push(e))
  const base = await listen(app)
  const context = await openBrowser(t)
  await mkdir(ARTIFACTS, { recursive: true })

  const observer = await openPlayer(context, base)
  const listener = await openPlayer(context, base)
  const page = listener.page
  t.ok(await drawnColumns(page) > 0.9, 'the waveform is drawn across the canvas')
  t.same(await wornSegments(page), Array(SEGMENTS).fill(false), 'nothing is worn yet')

  // From the start, for a little over two seconds.
  const firstStop = await playUntil(page, 2.2)
  const firstRun = range(0, segmentAt(firstStop))
  await eventually(() => recorded.length === firstRun.length, `${firstRun.length} plays`)
  t.same(recorded.map(e => e.segment_index), firstRun, `segments 0-${segmentAt(firstStop)} recorded in order as they were heard`)

  // Seek forward by clicking the waveform: the segments skipped over are not heard.
  const box = (await page.locator('#waveform').boundingBox())!
  await page.mouse.click(box.x + box.width * (4.1 / SECONDS), box.y + box.height / 2)
  await page.waitForFunction(() => !document.querySelector('audio')!.seeking)
  const seekedTo = await currentTime(page)
  t.ok(Math.abs(seekedTo - 4.1) < 0.05, `clicking the waveform seeks (to ${seekedTo.toFixed(2)} s)`)
  const secondStop = await playUntil(page, 4.8)
  const secondRun = range(segmentAt(seekedTo), segmentAt(secondStop))
  await eventually(() => recorded.length === firstRun.length + secondRun.length, 'the plays after the seek')
  t.same(recorded.map(e => e.segment_index), [...firstRun, ...secondRun], 'after a seek, only the segments played from there')

  // Back to the start with the keyboard: in the same listen, segments already reported are not reported again.
  await page.focus('#waveform')
  await page.keyboard.press('Home')
  await page.waitForFunction(() => document.querySelector('audio')!.currentTime < 0.1 && !document.querySelector('audio')!.seeking)
  await playUntil(page, 0.7)
  await new Promise(resolve => setTimeout(resolve, 400))
  const heard = [...firstRun, ...secondRun]
  t.same(listener.posted, heard, 'the page posted each heard segment exactly once')
  t.equal(recorded.length, heard.length, 'and the server recorded nothing more')

  const stats = (await app.inject(`/stats/${NAME}`)).json()
  const expectedCounts = range(0, SEGMENTS - 1).map(s => heard.includes(s) ? 1 : 0)
  t.same(stats.segment_play_counts, expectedCounts, '/stats counts one play per heard segment')
  t.same(stats.segment_degradation, expectedCounts.map(n => n * DEGRADATION))
  t.equal(stats.total_plays, heard.length)

  // Both pages show the new figures; the observer learnt them from /events only.
  const overall = percent(stats.overall_degradation)
  for (const [who, watched] of [['listener', listener], ['observer', observer]] as const) {
    await watched.page.locator('#live-count', { hasText: String(heard.length) }).waitFor({ timeout: 5000 })
    await watched.page.locator('#overall', { hasText: overall }).waitFor({ timeout: 5000 })
    t.match(await watched.page.locator('.track-meta').first().textContent(), `${overall} silenced`, `${who}: the track list shows the new wear`)
    await watched.page.waitForFunction((n) => document.querySelectorAll('#feed li').length === n, Math.min(8, heard.length))
    t.same(await wornSegments(watched.page), expectedCounts.map(n => n > 0), `${who}: the waveform marks exactly the worn segments`)
    t.ok(await drawnColumns(watched.page) > 0.9, `${who}: the waveform is still drawn`)
  }
  t.equal(await observer.page.locator('#live-count').textContent(), String(heard.length), 'the observer received every play live, none twice')
  t.same(observer.posted, [], 'the observer reported nothing: it did not play')

  const ranged = listener.streamStatuses.filter(s => s.range !== undefined)
  t.ok(ranged.length > 0 && ranged.every(s => s.status === 206), 'the audio element streams with Range requests, answered 206')

  await page.screenshot({ path: join(ARTIFACTS, 'player-listener.png'), fullPage: true })
  await observer.page.screenshot({ path: join(ARTIFACTS, 'player-observer.png'), fullPage: true })
  t.same(listener.errors, [], 'no console errors on the listening page')
  t.same(observer.errors, [], 'no console errors on the watching page')
})

t.test('the demo track in a phone-sized window', async t => {
  const { app } = await buildTestApp(t, { env: { DEMO_TRACK: true, DEGRADE_RATE_LIMIT: 0, DEGRADATION_RATE: 4 } })
  // Some wear from earlier listeners, more towards the start, as a well-loved track has.
  const demo = 'ephemeral-demo.wav'
  for (let s = 0; s < 48; s++) {
    const plays = Math.max(0, Math.round(12 - s / 3 + 5 * Math.sin(s / 2)))
    for (let i = 0; i < plays; i++) await app.degrader.play(await app.library.find(demo), s)
  }
  const base = await listen(app)
  const context = await openBrowser(t)
  const phone = await context.newPage()
  const errors: string[] = []
  phone.on('console', message => { if (message.type() === 'error') errors.push(message.text()) })
  phone.on('pageerror', error => errors.push(error.message))
  await phone.setViewportSize({ width: 390, height: 844 })
  await phone.goto(`${base}/player`)
  await phone.locator('#waveform[data-peaks-length]').waitFor()
  await phone.click('#play')
  await phone.waitForFunction(() => document.querySelector('audio')!.currentTime >= 1.2, null, { timeout: 10_000 })
  await phone.click('#play')
  await phone.waitForFunction(() => document.querySelectorAll('#feed li').length >= 3)
  await mkdir(ARTIFACTS, { recursive: true })
  await phone.screenshot({ path: join(ARTIFACTS, 'player-phone.png'), fullPage: true })
  const width = await phone.evaluate(() => document.documentElement.scrollWidth)
  t.ok(width <= 390, `no sideways scrolling on a phone (page is ${width} px wide)`)
  t.same(errors, [], 'no console errors')

  if (process.env.PLAYER_DOCS_SCREENSHOT === '1') {
    const wide = await context.newPage()
    await wide.setViewportSize({ width: 1100, height: 720 })
    await wide.goto(`${base}/player`)
    await wide.locator('#waveform[data-peaks-length]').waitFor()
    const box = (await wide.locator('#waveform').boundingBox())!
    await wide.mouse.click(box.x + box.width * (7.6 / 24), box.y + box.height / 2)
    await wide.waitForFunction(() => !document.querySelector('audio')!.seeking)
    await playUntil(wide, 10.2)
    await wide.waitForFunction(() => document.querySelectorAll('#feed li').length >= 5)
    await mkdir(DOCS, { recursive: true })
    await wide.screenshot({ path: join(DOCS, 'player.png') })
  }
})
