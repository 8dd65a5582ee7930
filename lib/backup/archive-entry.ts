import type { Header } from 'tar-stream'
import { invalidTrackName } from '../track-name.js'
import { badBackup, quoted } from './backup-error.js'
import { MANIFEST_NAME, TRACKS_FOLDER } from './manifest.js'

/** What an archive entry may be: the manifest, a track's pristine audio, or the folder that holds them. */
export type ArchiveEntry =
  | { kind: 'manifest' }
  | { kind: 'track', filename: string }
  | { kind: 'folder' }

const NOT_A_FILE: Readonly<Record<string, string>> = {
  link: 'a hard link',
  symlink: 'a symbolic link',
  'character-device': 'a character device',
  'block-device': 'a block device',
  fifo: 'a FIFO',
  directory: 'a directory',
  'contiguous-file': 'a contiguous file (not a regular file)'
}

/**
 * Which entry a tar header announces, or a BackupError saying why no entry of
 * that name and type belongs in a backup. Only plain files named
 * `manifest.json` or `tracks/<track name>` qualify (and the `tracks/` folder
 * itself, which `tar` adds when an operator repacks an archive); the name is
 * judged before the type, so a path that would escape is named as such.
 */
export function classifyEntry (header: Pick<Header, 'name' | 'type'>): ArchiveEntry {
  const { name } = header
  const shown = quoted(name)
  if (name.includes('\0')) throw badBackup(`entry ${shown} has a NUL byte in its name`)
  if (name.includes('\\')) throw badBackup(`entry ${shown} has a backslash in its name`)
  if (name.startsWith('/')) throw badBackup(`entry ${shown} is an absolute path`)
  if (name.split('/').includes('..')) throw badBackup(`entry ${shown} climbs out of the archive with ..`)
  const type = header.type as string | null

  if (type === 'directory' && (name === TRACKS_FOLDER || name === `${TRACKS_FOLDER}/`)) return { kind: 'folder' }
  if (type !== 'file') throw badBackup(`entry ${shown} is ${NOT_A_FILE[type ?? ''] ?? `of an unknown type (${String(type)})`}; only regular files are restored`)
  return entryOfName(name)
}

function entryOfName (name: string): ArchiveEntry {
  if (name === MANIFEST_NAME) return { kind: 'manifest' }
  const prefix = `${TRACKS_FOLDER}/`
  if (!name.startsWith(prefix)) throw badBackup(`entry ${quoted(name)} is neither ${MANIFEST_NAME} nor ${prefix}<track name>`)
  const filename = name.slice(prefix.length)
  const invalid = invalidTrackName(filename)
  if (invalid !== undefined) throw badBackup(`entry ${quoted(name)} is not a track: ${invalid}`)
  return { kind: 'track', filename }
}
