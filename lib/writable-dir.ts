import { access, mkdir, rm, writeFile } from 'node:fs/promises'
import { constants } from 'node:fs'
import { dirname, join } from 'node:path'

const IN_WORDS: Record<string, string> = {
  EROFS: 'its file system is read-only',
  ENOSPC: 'its disk is full',
  EDQUOT: 'its disk quota is used up',
  EACCES: 'the service has no permission to write there',
  EPERM: 'the service has no permission to write there',
  ENOTDIR: 'a part of the path is a file, not a folder'
}

/** The code of what stops writes to `dir`: tried on the nearest folder that exists, since mkdir reports ENOENT for a missing parent on a read-only disk. */
async function causeAt (dir: string, err: NodeJS.ErrnoException): Promise<string | undefined> {
  if (err.code !== undefined && err.code in IN_WORDS) return err.code
  for (let at = dir; ; at = dirname(at)) {
    const exists = await access(at, constants.F_OK).then(() => true, () => false)
    if (exists) {
      const probe = join(at, `.ephemeral-write-probe-${process.pid}`)
      try {
        await writeFile(probe, '')
        await rm(probe, { force: true })
        return undefined
      } catch (probeErr) {
        return (probeErr as NodeJS.ErrnoException).code
      }
    }
    if (dirname(at) === at) return undefined
  }
}

/**
 * Make sure `dir` exists and can be written, or fail naming the setting, the
 * folder and the real cause in words (a read-only disk, not "ENOENT … mkdir").
 */
export async function ensureWritableDir (dir: string, setting: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    const probe = join(dir, `.ephemeral-write-probe-${process.pid}`)
    await writeFile(probe, '')
    await rm(probe, { force: true })
  } catch (err) {
    const code = await causeAt(dir, err as NodeJS.ErrnoException) ?? (err as NodeJS.ErrnoException).code
    const words = code !== undefined ? IN_WORDS[code] : undefined
    throw new Error(`${setting} (${dir}) cannot be written: ${words ?? (err as Error).message}${code !== undefined && words !== undefined ? ` (${code})` : ''}`)
  }
}
