/**
 * The admin page's Listening tab in a real browser (Debian's chromium,
 * headless): three weeks of listening is made through the API under the
 * app's injected clock (listening-data.ts), then the artist opens the tab and
 * sees the figures that were made: totals, the top tracks, countries, the
 * busiest hour of the week on the listening clock, the charts (uPlot
 * canvases), a track's most played passage marked hottest on its heat strip,
 * its previous life after a reset; with no console error, no content
 * security policy violation, and nothing wider than a 375 px phone.
 *
 * Screenshots go to test-artifacts/; with ADMIN_DOCS_SCREENSHOT=1 the desktop
 * one also rewrites docs/analytics.png, the README's picture.
 */
import t from 'tap'
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { buildTestApp, listen } from '../helper.js'
import { signIn, watch } from './admin-helpers.js'
import { ARTIFACTS, DOCS, openBrowser } from './chromium.js'
import { DAY_MS, makeListening, type Made, type PlannedTrack } from './listening-data.js'

// The page.evaluate callbacks run in the browser; this is all they use of it, declared for the type checker.
declare const document: {
  documentElement: { scrollWidth: number }
  addEventListener: (type: string, listener: (event: { violatedDirective: string, blockedURI: string }) => void) => void
}
declare const window: { cspViolations: string[] }

const TOKEN = 'admin-analytics-test-token'
const PHONE_WIDTH = 375
const SEGMENT_SECONDS = 0.5
const TRACKS: PlannedTrack[] = [
  { filename: 'tide-pools.wav', title: 'Tide Pools', seconds: 40, popularity: 3, favourite: { from: 31, to: 33, replays: 2 } },
  { filename: 'morning-song.wav', title: 'Morning Song', seconds: 30, popularity: 2.5 },
  { filename: 'night-bus.wav', title: 'Night Bus', seconds: 24, popularity: 1.5 },
  { filename: 'glass-harmonica.wav', title: 'Glass Harmonica', seconds: 20, popularity: 1 }
]
// Days counted back from today (UTC). None today (its hours ahead are in the future) and none 6 days ago, the
// edge of "the last 7 days": if midnight passes while the test runs, the 7-day figures stay the same.
const DAYS = [20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 5, 4, 3, 2, 1]
const PARTY = { daysAgo: 3, hour: 21, filename: 'tide-pools.wav', listeners: 12 }

/** What the page should show for the period starting at midnight `days - 1` days ago. */
function truth (made: Made, days: number) {
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS
  const plays = made.plays.filter(p => p.at >= from)
  const listens = made.listens.filter(l => l.at >= from)
  const byTrack = TRACKS.map(track => ({
    title: track.title,
    plays: plays.filter(p => p.filename === track.filename).length,
    listens: listens.filter(l => l.filename === track.filename).length
  })).sort((a, b) => b.plays - a.plays)
  const clock = new Map<string, number>()
  for (const p of plays) {
    const key = `${new Date(p.at).getUTCDay()}/${new Date(p.at).getUTCHours()}`
    clock.set(key, (clock.get(key) ?? 0) + 1)
  }
  const busiest = [...clock.entries()].sort((a, b) => b[1] - a[1])
  return { plays: plays.length, listens: listens.length, byTrack, busiest }
}

const fmt = (n: number) => new Intl.NumberFormat('en').format(n)
const texts = async (page: Page, selector: string) => (await page.locator(selector).allTextContents()).map(s => s.trim())

t.test('the artist reads three weeks of listening on the Listening tab', async t => {
  let fixed: number | undefined
  const { app } = await buildTestApp(t, {
    env: { ADMIN_TOKEN: TOKEN, DEGRADE_RATE_LIMIT: 0, TRUST_PROXY: true, SEGMENT_DURATION: SEGMENT_SECONDS },
    tracks: Object.fromEntries(TRACKS.map(track => [track.filename, { channels: 1, sampleRate: 8000, frames: 8000 * track.seconds }])),
    clock: () => fixed ?? Date.now()
  })
  for (const track of TRACKS) {
    await app.inject({ method: 'PATCH', url: `/tracks/${track.filename}`, headers: { authorization: `Bearer ${TOKEN}` }, payload: { title: track.title } })
  }
  const made = await makeListening(app, ms => { fixed = ms }, { tracks: TRACKS, days: DAYS, party: PARTY, segmentSeconds: SEGMENT_SECONDS })
  fixed = undefined
  await app.analytics.flush()
  const month = truth(made, 30)
  const week = truth(made, 7)
  t.ok(month.busiest[0]![1] > month.busiest[1]![1], 'the made data has one busiest hour of the week (a precondition)')
  const base = await listen(app)
  await mkdir(ARTIFACTS, { recursive: true })

  const context = await openBrowser(t, { width: 1100, height: 900 })
  const { page, errors, failedLoads } = watch(await context.newPage())
  // Injected by the driver, not the page, so the policy does not apply to it.
  await page.addInitScript(() => {
    window.cspViolations = []
    document.addEventListener('securitypolicyviolation', event => window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`))
  })
  await signIn(page, base, TOKEN)
  await page.getByRole('tab', { name: 'Listening' }).click()
  await page.locator('#library-listening:not([hidden])').waitFor()

  // The totals of the last 30 days (the default) are what was made.
  t.equal(await page.getByRole('button', { name: '30 days' }).getAttribute('aria-pressed'), 'true', '30 days by default')
  t.same(await texts(page, '#totals dd'), [fmt(month.listens), fmt(month.plays), fmtHeard(month.plays), '4'], 'listens, plays, time heard, tracks')
  t.equal(await page.locator('#days-chart canvas').count(), 1, 'the per-day chart is drawn (a uPlot canvas)')
  t.same(await texts(page, '#top-tracks tbody td:first-child'), month.byTrack.map(x => x.title), 'top tracks, most played first')
  t.same(await texts(page, '#top-tracks tbody td:nth-child(2)'), month.byTrack.map(x => fmt(x.plays)), 'with their plays')
  t.same(await texts(page, '#top-tracks tbody td:nth-child(3)'), month.byTrack.map(x => fmt(x.listens)), 'and listens')
  const gb = made.listens.filter(l => l.country === 'GB').length
  t.same(await texts(page, '#countries tbody tr:first-child td'), ['United Kingdom', fmt(gb)], 'countries by name, most listens first')

  // The listening clock marks the busiest hour of the week, in UTC.
  const [weekday, hour] = month.busiest[0]![0].split('/')
  const peak = page.locator('#clock td.peak')
  t.equal(await peak.count(), 1, 'one busiest hour')
  t.same([await peak.getAttribute('data-weekday'), await peak.getAttribute('data-hour')], [weekday, hour], 'the hour with the most plays')
  t.equal(await peak.getAttribute('data-value'), String(month.busiest[0]![1]))
  t.equal(Number(hour), PARTY.hour, 'the listening party\'s hour')
  t.match(await page.locator('#clock-peak').textContent(), `${String(PARTY.hour).padStart(2, '0')}:00–22:00 UTC`)
  t.equal(await page.locator('#clock td[data-hour]').count(), 7 * 24, 'seven days of 24 hours')

  // One track: the most played is chosen; its wear curve and plays per day are drawn, and its favourite passage is hottest.
  t.equal(await page.locator('#history-track').inputValue(), 'tide-pools.wav', 'the most played track is shown first')
  await page.locator('#track-listening:not([hidden]) #wear-chart canvas').waitFor()
  t.equal(await page.locator('#plays-chart canvas').count(), 1, 'plays per day drawn')
  const hottest = page.locator('#heat-strip .heat-cell.hottest')
  const counts = Array.from({ length: 80 }, (_, segment) => made.plays.filter(p => p.filename === 'tide-pools.wav' && p.segment === segment).length)
  const favourite = Math.max(...counts)
  const hot = counts.flatMap((n, segment) => n === favourite ? [String(segment)] : [])
  t.ok(hot.length > 0 && hot.every(segment => segment >= '31' && segment <= '33'), `the favourite passage is the most played (a precondition): ${hot.join(', ')}`)
  t.same(await hottest.evaluateAll(cells => cells.map(c => (c as unknown as { dataset: Record<string, string> }).dataset.from)), hot, 'the most played segments are marked hottest')
  t.equal(await hottest.first().getAttribute('data-plays'), String(favourite), 'with their plays')
  t.match(await page.locator('#heat-peak').textContent(), `Most played: 0:15.5–0:16.0 (segment ${hot[0]}), ${favourite} plays`, 'and said in words')
  t.equal(await page.locator('#heat-strip .heat-cell').count(), 80, 'a cell per segment')
  const stats = (await app.inject('/stats/tide-pools.wav')).json() as { segment_play_counts: number[] }
  t.equal(Math.max(...stats.segment_play_counts), favourite, 'as GET /stats counts them')

  await page.screenshot({ path: join(ARTIFACTS, 'analytics-desktop.png'), fullPage: true })
  if (process.env.ADMIN_DOCS_SCREENSHOT === '1') {
    await mkdir(DOCS, { recursive: true })
    await copyFile(join(ARTIFACTS, 'analytics-desktop.png'), join(DOCS, 'analytics.png'))
  }

  // The last 7 days: fewer, as made.
  await page.getByRole('button', { name: '7 days' }).click()
  await page.locator('#totals dd[data-total="plays"]', { hasText: new RegExp(`^${fmt(week.plays)}$`) }).waitFor()
  t.equal(await page.locator('#totals dd[data-total="listens"]').textContent(), fmt(week.listens), '7 days: its listens')
  t.ok(week.plays < month.plays, 'fewer than in 30 days')

  // Choosing another track from the list shows its figures; after a reset, its previous life is one tick away.
  await app.inject({ method: 'POST', url: '/reset/glass-harmonica.wav', headers: { authorization: `Bearer ${TOKEN}` } })
  await page.locator('#history-track').selectOption('glass-harmonica.wav')
  await page.locator('#track-listening-message', { hasText: 'Nobody listened to glass-harmonica.wav' }).waitFor()
  t.match(await page.locator('#heat-peak').textContent(), 'Not played yet', 'reset: its parts are as new')
  await page.getByLabel('its previous life').check()
  await page.locator('#track-listening:not([hidden]) #wear-chart canvas').waitFor()
  t.equal(await page.locator('#track-listening-message').textContent(), '', 'its previous life has a history')

  // A phone: the tab fits in 375 px, charts included.
  await page.setViewportSize({ width: PHONE_WIDTH, height: 812 })
  await page.waitForFunction(width => document.documentElement.scrollWidth <= width, PHONE_WIDTH, { timeout: 5000 }).catch(() => {})
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  t.ok(width <= PHONE_WIDTH, `no sideways scrolling at ${PHONE_WIDTH} px (the page is ${width} px wide)`)
  const chart = await page.locator('#days-chart canvas').boundingBox()
  t.ok(chart !== null && chart.width <= PHONE_WIDTH - 32, 'the charts shrink with the page')
  await page.screenshot({ path: join(ARTIFACTS, 'analytics-phone.png'), fullPage: true })

  t.same(await page.evaluate(() => window.cspViolations), [], 'no content security policy violation')
  t.same(errors, [], 'no console errors')
  t.same(failedLoads, [], 'no failed loads')
})

t.test('with ANALYTICS=off the tab says so in words, and still shows where a track is worn', async t => {
  const { app } = await buildTestApp(t, {
    env: { ADMIN_TOKEN: TOKEN, ANALYTICS: 'off', DEGRADE_RATE_LIMIT: 0 },
    tracks: { 'song.wav': { channels: 1, sampleRate: 8000, frames: 8000 * 4 } }
  })
  for (const segment of [0, 1, 1, 2]) await app.inject({ method: 'POST', url: '/degrade/song.wav', payload: { segment_index: segment } })
  const base = await listen(app)
  const context = await openBrowser(t)
  const { page, errors, failedLoads } = watch(await context.newPage())
  await signIn(page, base, TOKEN)
  await page.getByRole('tab', { name: 'Listening' }).click()
  await page.locator('#library-listening-message', { hasText: 'Listening analytics are off' }).waitFor()
  await page.locator('#track-listening-message', { hasText: 'Listening analytics are off' }).waitFor()
  t.ok(await page.locator('#library-listening').isHidden(), 'no empty charts')
  t.equal(await page.locator('#heat-strip .heat-cell.hottest').getAttribute('data-from'), '1', 'GET /stats still gives the heat strip')
  t.same(errors, [], 'no console errors')
  t.ok(failedLoads.every(line => /^404 .*\/(admin\/analytics|tracks\/song\.wav\/history)\?/.test(line)) && failedLoads.length === 2, 'only the two 404s of the history routes')
})

t.test('a library nobody listened to yet: an empty state in words', async t => {
  const { app } = await buildTestApp(t, { env: { ADMIN_TOKEN: TOKEN }, tracks: { 'quiet.wav': { channels: 1, sampleRate: 8000, frames: 8000 * 2 } } })
  const base = await listen(app)
  const context = await openBrowser(t)
  const { page, errors, failedLoads } = watch(await context.newPage())
  await signIn(page, base, TOKEN)
  await page.getByRole('tab', { name: 'Listening' }).click()
  await page.locator('#library-listening-message', { hasText: 'Nobody listened in the last 30 days' }).waitFor()
  await page.locator('#track-listening-message', { hasText: 'Nobody listened to quiet.wav in the last 30 days' }).waitFor()
  t.match(await page.locator('#heat-peak').textContent(), 'Not played yet')
  t.equal(await page.locator('canvas').count(), 0, 'no empty charts')
  t.equal(new URL(page.url()).hash, '#listening', 'the address keeps the tab')
  await page.reload()
  await page.locator('#library-listening-message', { hasText: 'Nobody listened' }).waitFor()
  t.ok(await page.locator('#library-tab').isHidden(), 'a reload reopens the Listening tab')
  t.same(errors, [], 'no console errors')
  t.same(failedLoads, [])
})

function fmtHeard (plays: number): string {
  const minutes = Math.round(plays * SEGMENT_SECONDS / 60)
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
}
