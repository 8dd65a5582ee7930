/**
 * What the admin page's browser tests share: watching a page for console
 * errors, answering its confirmation dialogs, finding a track's row, signing in.
 */
import type { Page } from 'playwright-core'

export const TOKEN_KEY = 'ephemeral-audio.admin-token'

export interface Watched {
  page: Page
  /** Console errors and uncaught exceptions, but for the browser's note of an HTTP error status. */
  errors: string[]
  /** The browser's notes of an HTTP error status ("401 http://…/admin/token"): the test says which it expects. */
  failedLoads: string[]
}

export function watch (page: Page): Watched {
  const watched: Watched = { page, errors: [], failedLoads: [] }
  page.on('console', message => {
    if (message.type() !== 'error') return
    const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(message.text())
    if (status === null) watched.errors.push(message.text())
    else watched.failedLoads.push(`${status[1]} ${message.location().url}`)
  })
  page.on('pageerror', error => watched.errors.push(error.message))
  return watched
}

/** Answers the page's confirmation dialogs in turn; keeps their texts. */
export function answerDialogs (page: Page) {
  const answers: boolean[] = []
  const asked: string[] = []
  page.on('dialog', async dialog => {
    asked.push(dialog.message())
    const yes = answers.shift()
    if (yes === undefined) throw new Error(`an unexpected dialog: ${dialog.message()}`)
    await (yes ? dialog.accept() : dialog.dismiss())
  })
  return { answers, asked }
}

export const row = (page: Page, filename: string) => page.locator(`#track-list li[data-filename="${filename}"]`)

/** Open /admin and sign in with the token; resolves once the workspace shows. */
export async function signIn (page: Page, base: string, token: string) {
  await page.goto(`${base}/admin`)
  await page.getByLabel('Admin token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#workspace').waitFor()
}
