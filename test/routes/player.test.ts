import t from 'tap'
import { readFile } from 'node:fs/promises'
import { buildTestApp } from '../helper.js'

const publicFile = async (name: string) => await readFile(new URL(`../../public/${name}`, import.meta.url))

t.test('GET /player serves the page with a strict content security policy', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject('/player')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(res.body, (await publicFile('player.html')).toString())
  t.match(res.headers['content-security-policy'], /default-src 'self'/)
  t.notMatch(res.headers['content-security-policy'], /unsafe-inline/, 'no inline script or style is allowed')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['cache-control'], 'no-cache')
  const again = await app.inject({ url: '/player', headers: { 'if-none-match': res.headers.etag as string } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
})

t.test('the page\'s script and style sheet, and nothing else, below /player', async t => {
  const { app } = await buildTestApp(t)
  for (const [name, type] of [['player.js', /^text\/javascript/], ['player.css', /^text\/css/]] as const) {
    const res = await app.inject(`/player/${name}`)
    t.equal(res.statusCode, 200, name)
    t.match(res.headers['content-type'], type)
    t.equal(res.body, (await publicFile(name)).toString())
    t.equal((await app.inject({ url: `/player/${name}`, headers: { 'if-none-match': res.headers.etag as string } })).statusCode, 304)
  }
  for (const name of ['player.html', 'nope.js', '..%2Fpackage.json']) {
    const res = await app.inject(`/player/${name}`)
    t.equal(res.statusCode, 404, name)
    t.equal(res.json().code, 'EA_ROUTE_NOT_FOUND')
  }
  const slash = await app.inject('/player/')
  t.equal(slash.statusCode, 308)
  t.equal(slash.headers.location, '../player', 'relative, so it works behind a path prefix')
})

t.test('the page uses only relative URLs and no third-party code', async t => {
  const html = (await publicFile('player.html')).toString()
  const js = (await publicFile('player.js')).toString()
  t.notMatch(html, /(src|href)="(https?:)?\/\//, 'nothing from another origin')
  t.notMatch(html, /(src|href)="\/[^/]/, 'no absolute paths')
  t.notMatch(html, /<script>|style="/, 'no inline script or style, as the policy requires')
  for (const api of ['tracks', 'stats/', 'peaks/', 'stream/', 'degrade/', 'events']) t.match(js, new RegExp(`['\`]${api}`), `${api} is fetched relative to the page`)
  t.notMatch(js, /fetch\(['`]\//, 'no fetch of an absolute path')
})
