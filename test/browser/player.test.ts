/**
 * The player in a real browser: Debian's chromium, headless, driven by
 * playwright-core. One page listens (plays, seeks, replays), a second page
 * only watches; both must agree with what the server recorded.
 *
 * Everything runs at the default DEGRADATION_RATE (1 % per play), where the
 * wear must still be plain to see.
 *
 * Screenshots go to test-artifacts/ (gitignored). With PLAYER_DOCS_SCREENSHOT=1
 * the last test rewrites docs/player.png, the README's picture, from the real
 * server (server.ts in a child process) with its demo track.
 */
import t from 'tap'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { buildTestApp, listen } from '../helper.js'
import { ARTIFACTS, DOCS, openBrowser } from './chromium.js'
import { startService } from '../service-process.js'
import type { PlayEvent } from '../../schemas/events.js'

// The page.evaluate callbacks run in the browser; this is all they use of its DOM, declared for the type checker
// (a DOM lib reference would leak into the whole program).
interface PageAudio { currentTime: number, paused: boolean, seeking: boolean }
interface PageElement { getBoundingClientRect: () => { height: number }, querySelector: (selector: string) => PageElement | null }
interface PageCanvas {
  width: number
  height: number
  getContext: (kind: '2d') => { getImageData: (x: number, y: number, w: number, h: number) => { data: Uint8ClampedArray, width: number, height: number } } | null
}
declare const getComputedStyle: (element: PageElement) => { backgroundColor: string }
declare const document: {
  querySelector: ((selector: 'audio') => PageAudio | null) & ((selector: 'canvas') => PageCanvas | null)
  querySelectorAll: ((selector: '#wear-strip li') => PageElement[]) & ((selector: string) => { length: number })
  documentElement: { scrollWidth: number }
  getAnimations: () => { length: number }
}

const NAME = 'tone.wav'
const RATE = 8000
const SECONDS = 6
const SEGMENT = 0.5
/** DEGRADATION_RATE's default: the tests leave it unset. */
const DEFAULT_RATE = 1
const SEGMENTS = SECONDS / SEGMENT
const WORN_RED = 'rgb(255, 99, 88)'

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

/** Per segment, whether the waveform is tinted red over it (read along the canvas' top row). */
async function tintedSegments (page: Page): Promise<boolean[]> {
  return await page.evaluate((segments) => {
    const canvas = document.querySelector('canvas')!
    const top = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, 1).data
    // Three columns per segment, so the 2-pixel playhead cannot hide one.
    return Array.from({ length: segments }, (_, s) => [0.3, 0.5, 0.7].filter(f => {
      const p = Math.floor((s + f) / segments * canvas.width) * 4
      return top[p]! - top[p + 1]! > 12
    }).length >= 2)
  }, SEGMENTS)
}

interface StripCell { height: number, color: string }

/** Per segment, the bar in the wear strip under the waveform as it is drawn: its height in CSS pixels and its colour. */
async function stripCells (page: Page): Promise<StripCell[]> {
  return await page.evaluate(() => Array.from(document.querySelectorAll('#wear-strip li'), cell => {
    const fill = cell.querySelector('.fill')!
    return { height: Math.round(fill.getBoundingClientRect().height * 10) / 10, color: getComputedStyle(fill).backgroundColor }
  }))
}

const wornInStrip = (cells: StripCell[]) => cells.map(c => c.height > 0)

/** The panels' boxes: what a reader sees move when the layout jumps. */
async function panelBoxes (page: Page) {
  const boxes: Record<string, { x: number, y: number, width: number, height: number }> = {}
  for (const selector of ['.tracks', '.now', '.live', '#feed', '#waveform', '#wear-strip']) {
    boxes[selector] = (await page.locator(selector).boundingBox())!
  }
  return boxes
}

/** A play as any client records it: POST /degrade over HTTP. */
async function postPlay (base: string, segment: number, filename = NAME): Promise<PlayEvent> {
  const res = await fetch(`${base}/degrade/${filename}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ segment_index: segment }) })
  if (!res.ok) throw new Error(`POST /degrade: ${res.status} ${await res.text()}`)
  const { success: _success, ...play } = await res.json() as PlayEvent & { success: boolean }
  return play
}

/** The feed's entries, newest first: the segment as labelled, and the line under it. */
async function feedEntries (page: Page): Promise<Array<{ what: string, where: string }>> {
  const whats = await page.locator('#feed li .what').allTextContents()
  const wheres = await page.locator('#feed li .where').allTextContents()
  return whats.map((what, i) => ({ what, where: wheres[i]! }))
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
    env: { SEGMENT_DURATION: SEGMENT }
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
  t.same(await tintedSegments(page), Array(SEGMENTS).fill(false), 'nothing is tinted yet')
  t.same(wornInStrip(await stripCells(page)), Array(SEGMENTS).fill(false), 'the wear strip is empty')

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
  t.same(stats.segment_degradation, expectedCounts.map(n => n * DEFAULT_RATE))
  t.equal(stats.total_plays, heard.length)

  // Both pages show the new figures; the observer learnt them from /events only.
  const overall = percent(stats.overall_degradation)
  for (const [who, watched] of [['listener', listener], ['observer', observer]] as const) {
    await watched.page.locator('#live-count', { hasText: String(heard.length) }).waitFor({ timeout: 5000 })
    await watched.page.locator('#overall', { hasText: overall }).waitFor({ timeout: 5000 })
    t.match(await watched.page.locator('.track-meta').first().textContent(), `${overall} silenced`, `${who}: the track list shows the new wear`)
    await watched.page.waitForFunction((n) => document.querySelectorAll('#feed li').length === n, heard.length)
    t.same((await feedEntries(watched.page)).map(e => e.what), heard.map(s => `Segment ${s}`).reverse(),
      `${who}: the feed names each segment as the page sent it to the API, from 0, newest first`)
    t.same(await tintedSegments(watched.page), expectedCounts.map(n => n > 0), `${who}: the waveform tints exactly the worn segments`)
    t.same(wornInStrip(await stripCells(watched.page)), expectedCounts.map(n => n > 0), `${who}: the wear strip has a bar under exactly the worn segments`)
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

t.test('at the default rate, one play shows at once, numbered as the API numbers it, and nothing moves as the feed fills', async t => {
  const { app } = await buildTestApp(t, {
    tracks: { [NAME]: { sampleRate: RATE, frames: RATE * SECONDS } },
    env: { SEGMENT_DURATION: SEGMENT, DEGRADE_RATE_LIMIT: 0 }
  })
  const base = await listen(app)
  const context = await openBrowser(t)
  const { page, errors } = await openPlayer(context, base)
  const before = await panelBoxes(page)
  const cell = (s: number) => page.locator('#wear-strip li').nth(s)
  t.equal(await page.locator('#wear-strip li').count(), SEGMENTS, 'one strip cell per segment')
  t.equal(await page.locator('#strip-end').textContent(), `segment ${SEGMENTS - 1}`, 'the strip is labelled from segment 0 to the last index')
  const unplayed = await cell(3).screenshot()

  // Another listener plays segment 3, once, at 1 % per play.
  const play = await postPlay(base, 3)
  t.equal(play.segment_degradation, DEFAULT_RATE, 'the play silenced 1 % of the segment')
  await page.locator('#feed li').first().waitFor()
  const [entry] = await feedEntries(page)
  t.equal(entry!.what, 'Segment 3', 'the feed shows the index the API was sent, not 3 + 1')
  t.match(entry!.where, 'tone · 0:01.5–0:02.0 · play 1', 'and where it lies: segment 0 starts at 0:00')
  // Once the flash that marks the latest play is over.
  await page.waitForFunction(() => document.getAnimations().length === 0)
  let cells = await stripCells(page)
  const stripHeight = before['#wear-strip']!.height
  t.ok(cells[3]!.height > stripHeight / 2, `the played segment's bar stands ${cells[3]!.height} px tall in a ${stripHeight} px strip`)
  t.equal(cells[3]!.color, WORN_RED, 'in the worn colour')
  t.same(cells.filter((_, s) => s !== 3).map(c => c.height), Array(SEGMENTS - 1).fill(0), 'and every other bar is flat')
  t.not(Buffer.compare(await cell(3).screenshot(), unplayed), 0, 'the cell looks different after one play')
  t.same(await tintedSegments(page), range(0, SEGMENTS - 1).map(s => s === 3), 'the waveform is tinted over that segment alone')
  t.match(await page.locator('#strip-scale').textContent(), 'tallest bar: 1 play, 1.0% silenced')

  // Each further play changes its own cell: the bars count plays next to the most-played segment.
  await postPlay(base, 5)
  await postPlay(base, 3)
  await page.waitForFunction(() => document.querySelectorAll('#feed li').length === 3)
  cells = await stripCells(page)
  t.ok(cells[5]!.height > 0 && Math.abs(cells[5]!.height - cells[3]!.height / 2) <= 1,
    `one play stands half as tall as two (${cells[5]!.height} px and ${cells[3]!.height} px)`)

  // Enough plays to overflow the feed: it scrolls inside, the page does not move.
  const sent = [3, 5, 3]
  for (let i = 0; i < 17; i++) {
    const segment = (i * 5) % SEGMENTS
    await postPlay(base, segment)
    sent.push(segment)
  }
  await page.waitForFunction((n) => document.querySelectorAll('#feed li').length === n, sent.length)
  t.same((await feedEntries(page)).map(e => e.what), sent.map(s => `Segment ${s}`).reverse(), 'every play in the feed, by the index sent')
  const overflow = await page.locator('#feed').evaluate((feed: unknown) => {
    const { scrollHeight, clientHeight } = feed as { scrollHeight: number, clientHeight: number }
    return scrollHeight - clientHeight
  })
  t.ok(overflow > 0, 'the feed holds more than it shows, and scrolls')
  const after = await panelBoxes(page)
  t.same(after, before, `no panel moved or changed size after ${sent.length} plays`)

  const { '.tracks': tracks, '.now': now, '.live': live } = after
  t.equal(live!.y - (tracks!.y + tracks!.height), now!.x - (tracks!.x + tracks!.width), 'the live panel sits under the tracks, one grid gap away')
  t.equal(live!.y + live!.height, now!.y + now!.height, 'and both columns end together: no empty gap')
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, 'player-feed-full.png'), fullPage: true })
  t.same(errors, [], 'no console errors')
})

t.test('the demo track in a phone-sized window', async t => {
  const { app } = await buildTestApp(t, { env: { DEMO_TRACK: true, DEGRADE_RATE_LIMIT: 0 } })
  const base = await listen(app)
  // Some wear from earlier listeners, more towards the start, as a well-loved track has.
  for (let s = 0; s < 48; s++) {
    const plays = Math.max(0, Math.round(12 - s / 3 + 5 * Math.sin(s / 2)))
    for (let i = 0; i < plays; i++) await postPlay(base, s, 'ephemeral-demo.wav')
  }
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
})

/** A port nobody listens on now (PORT must be at least 1, so the service cannot be asked for an ephemeral one). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

t.test('docs/player.png: the real server and its demo track, at the default rate', {
  skip: process.env.PLAYER_DOCS_SCREENSHOT === '1' ? false : 'set PLAYER_DOCS_SCREENSHOT=1 to retake the README\'s picture'
}, async t => {
  const root = await mkdtemp(join(tmpdir(), 'ephemeral-docs-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  // Every setting at its default (DEGRADATION_RATE 1 %, 0.5 s segments) but the plays' rate limit, so the earlier listens below go in at once.
  const service = await startService({
    AUDIO_DIR: join(root, 'audio'), METADATA_DIR: join(root, 'metadata'), DEMO_TRACK: 'true', DEGRADE_RATE_LIMIT: '0', PORT: String(await freePort())
  })
  t.teardown(async () => {
    service.child.kill('SIGTERM')
    await service.exited
  })
  // Nine earlier listeners, each from the start until they stopped: the opening is the most worn, as on a well-loved track.
  for (const stoppedAt of [48, 48, 36, 30, 24, 18, 14, 10, 6]) {
    for (let s = 0; s < stoppedAt; s++) await postPlay(service.url, s, 'ephemeral-demo.wav')
  }
  const context = await openBrowser(t)
  const wide = await context.newPage()
  await wide.setViewportSize({ width: 1100, height: 720 })
  await wide.goto(`${service.url}/player`)
  await wide.locator('#waveform[data-peaks-length]').waitFor()
  // This page listens from 0:07.6 to 0:10.2 (segments 15 to 20).
  const box = (await wide.locator('#waveform').boundingBox())!
  await wide.mouse.click(box.x + box.width * (7.6 / 24), box.y + box.height / 2)
  await wide.waitForFunction(() => !document.querySelector('audio')!.seeking)
  await playUntil(wide, 10.2)
  await wide.waitForFunction(() => document.querySelectorAll('#feed li').length >= 6)
  // Past the flash of the latest play.
  await new Promise(resolve => setTimeout(resolve, 1500))
  await mkdir(DOCS, { recursive: true })
  await wide.screenshot({ path: join(DOCS, 'player.png') })
})
