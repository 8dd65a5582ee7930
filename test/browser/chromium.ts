import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext } from 'playwright-core'
import type { TapTest } from '../helper.js'

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'
]

/** Where the browser tests leave their screenshots (gitignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
/** The README's pictures. */
export const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url))

/** Debian's chromium, headless, with a fresh profile per run (launchPersistentContext is how playwright takes --user-data-dir), closed when the test ends. */
export async function openBrowser (t: TapTest, viewport = { width: 1100, height: 820 }): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), 'ephemeral-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
    deviceScaleFactor: 1
  })
  t.teardown(async () => {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  })
  return context
}
