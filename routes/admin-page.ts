import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { loadPackageFiles, loadPublicFiles } from './public-files.js'

const PAGE = 'admin.html'
const ASSETS = ['admin.css', 'admin.js', 'admin-listening.css', 'admin-listening.js', 'admin-charts.js'] as const
/** The Listening tab's charts: uPlot (MIT), served from here, as the policy allows nothing from elsewhere. */
const VENDOR = { 'uplot.js': 'uplot/dist/uPlot.iife.min.js', 'uplot.css': 'uplot/dist/uPlot.min.css' } as const

/**
 * The artist's page: open, like any page, while everything it does goes
 * through the admin routes with the token the artist types. Registered outside
 * the admin scope (routes/admin/), so loading it needs no token. Its files
 * have fixed paths below /admin, beside /admin/backup and /admin/restore,
 * rather than a parameter that would shadow them.
 *
 * Not in the OpenAPI document: a page for people over operations that are
 * documented, not an operation a client calls.
 */
const adminPage: FastifyPluginAsyncTypebox = async (fastify) => {
  const files = await loadPublicFiles([PAGE, ...ASSETS])
  const vendor = await loadPackageFiles(VENDOR)
  const hide = { hide: true }

  fastify.get('/admin', { schema: { ...hide, summary: 'The admin page' } },
    async (request, reply) => await files.serve(PAGE, request.headers['if-none-match'], reply))

  // Where the page's relative links resolve.
  fastify.get('/admin/', { schema: { ...hide, summary: 'The admin page, under its other spelling' } },
    async (_request, reply) => await reply.redirect('../admin', 308))

  for (const name of ASSETS) {
    fastify.get(`/admin/${name}`, { schema: { ...hide, summary: `The admin page's ${name}` } },
      async (request, reply) => await files.serve(name, request.headers['if-none-match'], reply))
  }
  for (const name of Object.keys(VENDOR)) {
    fastify.get(`/admin/vendor/${name}`, { schema: { ...hide, summary: `The admin page's ${name}` } },
      async (request, reply) => await vendor.serve(name, request.headers['if-none-match'], reply))
  }
}

export default adminPage
