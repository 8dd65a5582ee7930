import fp from 'fastify-plugin'
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'

/**
 * Registered with `global: false`: only routes that opt in (POST /degrade)
 * are limited, so streaming and reads are never slowed by it.
 */
export default fp(async function rateLimitPlugin (fastify) {
  await fastify.register(rateLimit, {
    global: false,
    // After validation: a malformed request is refused for what it is (400/413/415) and costs no budget.
    hook: 'preHandler',
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`Rate limit exceeded, retry in ${context.after}`), { statusCode: context.statusCode, code: 'EA_RATE_LIMITED' })
  })
}, { name: 'rate-limit', dependencies: ['config'] })

/**
 * The client as the rate limiter sees it. Behind one reverse proxy
 * (TRUST_PROXY=true) every request comes from the proxy, so the real client is
 * the address the proxy appended last to X-Forwarded-For; earlier entries are
 * whatever the client claimed and cannot be trusted.
 */
export function clientAddress (request: FastifyRequest, trustProxy: boolean): string {
  // As the plugin's own key does: one IPv6 client usually holds a whole subnet.
  return normalizeIP(clientIp(request, trustProxy))
}

/** The client's own address: the one the trusted proxy appended last, else the peer's. */
export function clientIp (request: FastifyRequest, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers['x-forwarded-for']
    const value = Array.isArray(forwarded) ? forwarded.at(-1) : forwarded
    const last = value?.split(',').at(-1)?.trim()
    if (last) return last
  }
  return request.ip
}

const ONE_SECOND = 1000

/**
 * The limit of the routes a player calls per segment (plays, previews):
 * DEGRADE_RATE_LIMIT requests a second per client and per track, since one
 * listener plays one track at a time; false when the limit is off.
 */
export function perClientAndTrack (config: { degradeRateLimit: number, trustProxy: boolean }) {
  return config.degradeRateLimit > 0
    ? {
        max: config.degradeRateLimit,
        timeWindow: ONE_SECOND,
        keyGenerator: (request: FastifyRequest) =>
          `${clientAddress(request, config.trustProxy)}|${(request.params as { filename?: string }).filename ?? ''}`
      }
    : false
}
