import { open } from 'node:fs/promises'
import { isDeepStrictEqual } from 'node:util'
import { readWavLayout, WavFormatError } from '../riff.js'
import { segmentCount, type WavLayout } from '../wav-format.js'
import { badBackup } from './backup-error.js'
import { MANIFEST_NAME, manifestProblem, type BackupManifest, type BackupTrack } from './manifest.js'

/** A pristine file unpacked into the folder, and what it hashed to. */
export interface ExtractedFile { filename: string, path: string, size: number, sha256: string }

export interface RestoredBackup {
  manifest: BackupManifest
  /** Each track's filename → the path of its verified pristine audio inside the folder unpacked into. */
  files: Map<string, string>
}

/**
 * The manifest against the files unpacked beside it: every track listed has
 * its file, of the size and SHA-256 listed; every file is listed; each file is
 * the WAV its metadata describes (same layout, same number of segments).
 */
export async function verifyBackup (manifestBytes: Buffer, extracted: Map<string, ExtractedFile>, maxTracks: number): Promise<RestoredBackup> {
  const manifest = parseManifest(manifestBytes, maxTracks)
  const files = new Map<string, string>()
  for (const { metadata, pristine } of manifest.tracks) {
    const file = extracted.get(metadata.filename)
    if (file === undefined) throw badBackup(`${MANIFEST_NAME} lists ${pristine.path}, which is not in the archive`)
    if (file.size !== pristine.size) throw badBackup(`${pristine.path} is ${file.size} bytes; ${MANIFEST_NAME} says ${pristine.size}`)
    if (file.sha256 !== pristine.sha256) throw badBackup(`${pristine.path} does not match its SHA-256 in ${MANIFEST_NAME} (checksum mismatch)`)
    files.set(metadata.filename, file.path)
  }
  for (const name of extracted.keys()) {
    if (!files.has(name)) throw badBackup(`tracks/${name} is in the archive but not in ${MANIFEST_NAME}`)
  }
  for (const track of manifest.tracks) await checkAudio(files.get(track.metadata.filename) as string, track)
  return { manifest, files }
}

function parseManifest (bytes: Buffer, maxTracks: number): BackupManifest {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw badBackup(`${MANIFEST_NAME} is not valid UTF-8 JSON`)
  }
  const problem = manifestProblem(value, maxTracks)
  if (problem !== undefined) throw badBackup(problem)
  return value as BackupManifest
}

/** A restore renders the audio from this file with this metadata: they must agree. */
async function checkAudio (path: string, { metadata, pristine }: BackupTrack): Promise<void> {
  let layout: WavLayout
  const file = await open(path, 'r')
  try {
    layout = await readWavLayout(file)
  } catch (err) {
    if (err instanceof WavFormatError) throw badBackup(`${pristine.path} is not a WAV the service plays: ${err.message}`)
    throw err
  } finally {
    await file.close()
  }
  if (!isDeepStrictEqual(layout, metadata.layout)) throw badBackup(`the metadata of ${pristine.path} describes another WAV layout than its audio`)
  const segments = segmentCount(layout, metadata.segment_duration)
  if (segments !== metadata.total_segments) {
    throw badBackup(`the metadata of ${pristine.path} counts ${metadata.total_segments} segments; its audio has ${segments} of ${metadata.segment_duration} s`)
  }
}
