import t from 'tap'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { buildTestApp } from '../helper.js'

const publicFile = async (name: string) => (await readFile(new URL(`../../public/${name}`, import.meta.url))).toString()
const packageFile = async (specifier: string) => await readFile(createRequire(import.meta.url).resolve(specifier))
const ADMIN_TOKEN = 'page-test-token'

t.test('GET /admin serves the page, with no token, under a strict content security policy', async t => {
  const { app } = await buildTestApp(t, { env: { ADMIN_TOKEN } })
  const res = await app.inject('/admin')
  t.equal(res.statusCode, 200, 'no Authorization header needed')
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.equal(res.body, await publicFile('admin.html'))
  t.match(res.headers['content-security-policy'], /default-src 'self'/)
  t.notMatch(res.headers['content-security-policy'], /unsafe-inline/, 'no inline script or style is allowed')
  t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/, 'not framed (no clickjacking of the delete button)')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['cache-control'], 'no-cache')
  t.match(res.headers.etag, /^"[\w-]{22}"$/)
  t.notOk(res.headers['www-authenticate'], 'the admin scope\'s hooks do not reach the page')
  const again = await app.inject({ url: '/admin', headers: { 'if-none-match': res.headers.etag as string } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  const wrongToken = await app.inject({ url: '/admin', headers: { authorization: 'Bearer wrong' } })
  t.equal(wrongToken.statusCode, 200, 'a wrong token does not matter to the page either')
})

t.test('the page is served with the admin routes off (they answer 403 when it calls them)', async t => {
  const { app } = await buildTestApp(t)
  t.equal((await app.inject('/admin')).statusCode, 200)
  t.equal((await app.inject('/admin/admin.js')).statusCode, 200)
  t.equal((await app.inject({ url: '/admin/token', headers: { authorization: 'Bearer x' } })).statusCode, 403)
})

t.test('its script and style sheet, beside the admin API, which still needs the token', async t => {
  const { app } = await buildTestApp(t, { env: { ADMIN_TOKEN } })
  for (const [name, type] of [
    ['admin.js', /^text\/javascript/], ['admin.css', /^text\/css/],
    ['admin-listening.js', /^text\/javascript/], ['admin-charts.js', /^text\/javascript/], ['admin-listening.css', /^text\/css/]
  ] as const) {
    const res = await app.inject(`/admin/${name}`)
    t.equal(res.statusCode, 200, name)
    t.match(res.headers['content-type'], type)
    t.equal(res.body, await publicFile(name))
    t.notOk(res.headers['content-security-policy'], 'the policy is the page\'s')
    t.equal((await app.inject({ url: `/admin/${name}`, headers: { 'if-none-match': res.headers.etag as string } })).statusCode, 304)
  }
  for (const name of ['admin.html', 'player.js', 'nope.js']) {
    const res = await app.inject(`/admin/${name}`)
    t.equal(res.statusCode, 404, name)
    t.equal(res.json().code, 'EA_ROUTE_NOT_FOUND')
  }
  t.equal((await app.inject('/admin/backup')).statusCode, 401, 'GET /admin/backup still needs the token')
  t.equal((await app.inject('/admin/token')).statusCode, 401)
  t.equal((await app.inject({ url: '/admin/token', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode, 204)
  const slash = await app.inject('/admin/')
  t.equal(slash.statusCode, 308)
  t.equal(slash.headers.location, '../admin', 'relative, so it works behind a path prefix')
})

t.test('uPlot\'s script and style sheet are served from the service, with their types and ETags', async t => {
  const { app } = await buildTestApp(t, { env: { ADMIN_TOKEN } })
  for (const [name, specifier, type] of [
    ['uplot.js', 'uplot/dist/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
    ['uplot.css', 'uplot/dist/uPlot.min.css', 'text/css; charset=utf-8']
  ] as const) {
    const res = await app.inject(`/admin/vendor/${name}`)
    const file = await packageFile(specifier)
    t.equal(res.statusCode, 200, `${name}: no token needed, as for the page`)
    t.equal(res.headers['content-type'], type)
    t.same(res.rawPayload, file, 'the installed package\'s file, byte for byte')
    t.equal(res.headers.etag, `"${createHash('sha256').update(file).digest('base64url').slice(0, 22)}"`, 'an ETag of its content')
    t.equal(res.headers['cache-control'], 'no-cache')
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.notOk(res.headers['content-security-policy'], 'the policy is the page\'s')
    const again = await app.inject({ url: `/admin/vendor/${name}`, headers: { 'if-none-match': res.headers.etag as string } })
    t.equal(again.statusCode, 304, 'revalidated for nothing')
    t.equal(again.body, '')
    const stale = await app.inject({ url: `/admin/vendor/${name}`, headers: { 'if-none-match': '"an-older-version"' } })
    t.equal(stale.statusCode, 200, 'a changed file is sent again')
  }
  t.equal((await app.inject('/admin/vendor/uPlot.esm.js')).statusCode, 404, 'only those two files')
  t.equal((await app.inject('/admin/vendor/../../package.json')).statusCode, 404)
  const html = await publicFile('admin.html')
  t.match(html, '<script src="admin/vendor/uplot.js" defer></script>', 'the page loads the script from the service')
  t.match(html, '<link rel="stylesheet" href="admin/vendor/uplot.css">')
})

t.test('the page routes are not in the OpenAPI document', async t => {
  const { app } = await buildTestApp(t)
  const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths)
  t.same(paths.filter(p => p === '/admin' || p.startsWith('/admin/admin') || p.startsWith('/admin/vendor')), [])
  t.ok(paths.includes('/admin/token'), 'the token check is')
})

t.test('the page uses only relative URLs, no third-party code, and sends the token as Bearer', async t => {
  const html = await publicFile('admin.html')
  const js = await publicFile('admin.js')
  t.notMatch(html, /(src|href)="(https?:)?\/\//, 'nothing from another origin')
  t.notMatch(html, /(src|href)="\/[^/]/, 'no absolute paths')
  t.notMatch(html, /<script>|style="/, 'no inline script or style, as the policy requires')
  for (const api of ['tracks', 'reset/', 'admin/token', 'admin/backup', 'admin/restore']) t.match(js, new RegExp(`['\`]${api}`), `${api} is called relative to the page`)
  t.notMatch(js, /(fetch|open)\([^)]*['`]\//, 'no request to an absolute path')
  t.match(js, /sessionStorage/, 'the token is kept for the tab only')
  t.notMatch(js, /localStorage/)
  t.match(js, /Bearer \$\{/)
  const listening = await publicFile('admin-listening.js')
  for (const api of ['admin/analytics', 'tracks/', 'stats/']) t.match(listening, new RegExp(`\`${api}`), `the Listening tab calls ${api} relative to the page`)
  t.notMatch(listening, /api\([^)]*['`]\//, 'no request to an absolute path')
  t.notMatch(listening + await publicFile('admin-charts.js'), /fetch\(|innerHTML|\.setAttribute\('style'/, 'calls go through admin.js; no markup or style attributes from strings')
})
