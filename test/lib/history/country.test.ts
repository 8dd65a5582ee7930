import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundledCountryDatabase, countryFromHeaders, countryResolver, loadCountryDatabase } from '../../../lib/history/country.js'

t.test('a proxy header names the country; junk in it does not', async t => {
  t.equal(countryFromHeaders({ 'cf-ipcountry': 'gb' }), 'GB')
  t.equal(countryFromHeaders({ 'cloudfront-viewer-country': 'DE' }), 'DE')
  t.equal(countryFromHeaders({ 'x-country-code': ['FR', 'US'] }), 'FR')
  t.equal(countryFromHeaders({ 'cf-ipcountry': 'XX' }), undefined, 'Cloudflare\'s unknown')
  t.equal(countryFromHeaders({ 'cf-ipcountry': 'T1' }), undefined, 'Tor is no country')
  t.equal(countryFromHeaders({ 'cf-ipcountry': 'GBR' }), undefined)
  t.equal(countryFromHeaders({ 'cf-ipcountry': '<script>' }), undefined)
  t.equal(countryFromHeaders({}), undefined)
})

t.test('the bundled database finds countries of IPv4, IPv6 and mapped addresses', async t => {
  const lookup = await loadCountryDatabase(bundledCountryDatabase())
  t.equal(lookup('8.8.8.8'), 'US')
  t.equal(lookup('81.2.69.142'), 'GB')
  t.equal(lookup('2001:4860:4860::8888'), 'US')
  t.equal(lookup('::ffff:8.8.8.8'), 'US', 'an IPv4 client on a dual-stack socket')
  t.equal(lookup('127.0.0.1'), undefined, 'loopback has no country')
  t.equal(lookup('10.1.2.3'), undefined, 'nor a private network')
  t.equal(lookup('not an address'), undefined)
})

t.test('a header counts only from a trusted proxy; the database answers otherwise', async t => {
  const lookup = (address: string) => address === '8.8.8.8' ? 'US' : undefined
  const trusted = countryResolver({ trustProxy: true, lookup })
  const untrusted = countryResolver({ trustProxy: false, lookup })
  t.equal(trusted('8.8.8.8', { 'cf-ipcountry': 'JP' }), 'JP')
  t.equal(trusted('8.8.8.8', {}), 'US', 'no header: the database')
  t.equal(untrusted('8.8.8.8', { 'cf-ipcountry': 'JP' }), 'US', 'a client cannot claim a country')
  t.equal(countryResolver({ trustProxy: false, lookup: undefined })('8.8.8.8', {}), undefined)
})

t.test('a file that is not a country database is refused when loaded', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'country-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'bad.mmdb'), 'not a database')
  await t.rejects(loadCountryDatabase(join(dir, 'bad.mmdb')))
  await t.rejects(loadCountryDatabase(join(dir, 'missing.mmdb')), { code: 'ENOENT' })
})
