// The upload case: paced plays at the target's rate while a 60-minute MP3 is
// uploaded, decoded (in the service's worker thread) and installed. The
// decode must not slow the plays: the p99 is reported beside the same run's
// figure without the upload.
import { spawnSync } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { request } from 'node:http'
import { paced, randomSegment } from './load.mjs'
import { round } from './procs.mjs'

const TOKEN = 'bench-upload-token'
export const UPLOAD_ENV = { ADMIN_TOKEN: TOKEN }

/** A 60-minute stereo MP3 made by ffmpeg (a bench tool only; the service never runs it). */
export function writeMp3 (path, minutes = 60) {
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=330:duration=${minutes * 60}`, '-f', 'lavfi', '-i', `anoisesrc=duration=${minutes * 60}:amplitude=0.05:seed=7`,
    '-filter_complex', 'amix=inputs=2,aformat=channel_layouts=stereo', '-ar', '44100', '-b:a', '128k', path])
  if (made.status !== 0) throw new Error(`ffmpeg could not make the MP3: ${made.stderr}`)
  return path
}

/** PUT the file as a stream; resolves with the status and the seconds it took. */
async function upload (server, name, path) {
  const { size } = await stat(path)
  const started = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request(new URL(`/tracks/${name}`, server.url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'audio/mpeg', 'content-length': size }
    }, res => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode, seconds: round((performance.now() - started) / 1000, 1), bytes: size }))
    })
    req.on('error', reject)
    createReadStream(path).pipe(req)
  })
}

/**
 * Plays at `rate` on `trackName` twice: alone, then while the MP3 uploads.
 * The second window lasts as long as the upload takes (at least `seconds`).
 */
export async function uploadDuringPlays ({ server, trackName, segments, rate, connections, seconds, mp3, log }) {
  const play = { server, path: `/degrade/${trackName}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: randomSegment(segments), rate, connections }
  log(`upload: ${rate} plays/s without an upload`)
  const alone = await paced({ ...play, seconds })
  log('upload: the same while a 60-minute MP3 uploads')
  let uploaded
  const during = await paced({
    ...play,
    seconds: Math.max(seconds, 20),
    // Starts once the warm-up is over, so the whole measured window has the decoder busy.
    onMeasure: () => { uploaded = upload(server, 'upload-60min.wav', mp3) }
  })
  const result = await uploaded
  return { alone, during, upload: result, mp3Bytes: (await stat(mp3)).size }
}
