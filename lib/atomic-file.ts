import { randomBytes } from 'node:crypto'
import { open, readdir, rename, rm, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

// `.<target name>.<pid>.<12 hex>.tmp`: specific enough that the clean-up
// never touches a file someone else named `*.tmp`.
const TEMP_NAME = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/

function tempPathFor (path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
}

/** Make the folder's entries (created, renamed, removed files) durable. */
export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replace `path` so that a reader, or the disk after a crash, sees the old
 * content or the new one, never a mix: the rename is atomic, and the fsyncs
 * before and after it order the data ahead of the name change.
 */
export async function writeFileAtomic (path: string, data: string | Buffer): Promise<void> {
  const temp = tempPathFor(path)
  try {
    const handle = await open(temp, 'wx')
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
    await fsyncDir(dirname(path))
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/**
 * Delete the temporary files a crash left behind in `dir`. Call it at
 * start-up, before anything writes there: a temporary file still being
 * written looks exactly like a stale one (after a restart in a container the
 * pid is often the same), so it would be removed from under its writer.
 */
export async function removeStaleTempFiles (dir: string): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  let removed = 0
  for (const name of names.filter(n => TEMP_NAME.test(n))) {
    try {
      await unlink(join(dir, name))
      removed++
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return removed
}
