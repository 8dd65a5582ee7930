// npm run bench: streaming, degradation, memory and start-up figures of the
// compiled service on generated tracks in a temporary folder, next to
// @fastify/static (and nginx when installed). See BENCHMARKS.md.
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises'
import { loadavg, setPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { writeManyTracks, writeTrack } from './lib/tracks.mjs'
import { machine, memoryOf, nginxPath, round, startNginx, startPeer, startService, stop, stopAll } from './lib/procs.mjs'
import { combine, manyStreams, measure, paced, randomSegment, randomSegmentBody, rangeRequest } from './lib/load.mjs'
import { UPLOAD_ENV, uploadDuringPlays, writeMp3 } from './lib/upload.mjs'

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'stream,degrade,upload,memory,startup' },
    seconds: { type: 'string', default: process.env.BENCH_SECONDS ?? '5' },
    label: { type: 'string', default: '' },
    // The decay engine of the tracks the degrade case plays (DECAY_ENGINE): `--engine dissolve` measures the slowest.
    engine: { type: 'string', default: 'dropout' },
    // On a shared machine, a negative value (root only) lets other work disturb the figures less; children inherit it.
    nice: { type: 'string', default: process.env.BENCH_NICE ?? '0' },
    // A listening history to start the degrade and upload cases with (copied to METADATA_DIR/history.sqlite),
    // such as the 10-million-play one `npm run bench:history -- --keep FILE` fills. ANALYTICS=off in the
    // environment (passed on to the service) turns the history off, to compare.
    history: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false }
  }
})
const only = new Set(args.only.split(','))
const SECONDS = Number(args.seconds)
const SEGMENT_SECONDS = 0.5
const STREAM_CONNECTIONS = { whole: 10, range: 50 }
// Each server's streaming figure is measured in rounds, taking turns with the others.
const STREAM_ROUNDS = 2
const DEGRADE_CONNECTIONS = 50
const DEGRADE_RATE = 2000
const MEMORY_CLIENTS = 100
const MEMORY_SECONDS = 8
const STARTUP_TRACKS = 10_000
const RESULTS = fileURLToPath(new URL('results/', import.meta.url))

let nice = Number(args.nice)
try {
  if (nice !== 0) setPriority(nice)
} catch (err) {
  console.error(`bench: cannot set priority ${nice} (${err.code}); running at the default`)
  nice = 0
}

const startedAt = new Date()
const t0 = performance.now()
const results = {
  label: args.label,
  startedAt: startedAt.toISOString(),
  machine: machine({ nginx: nginxPath() === undefined ? 'not installed' : 'installed' }),
  settings: { nice, seconds: SECONDS, warmupSeconds: 1, streamRounds: STREAM_ROUNDS, streamConnections: STREAM_CONNECTIONS, degradeConnections: DEGRADE_CONNECTIONS, degradeRate: DEGRADE_RATE, segmentSeconds: SEGMENT_SECONDS, engine: args.engine, analytics: process.env.ANALYTICS ?? 'on', history: args.history === undefined ? undefined : { file: args.history, mb: round((await stat(args.history)).size / 1e6, 1) } },
  streaming: undefined,
  degrade: undefined,
  memory: undefined,
  startup: undefined
}
const log = (...m) => console.error(`[bench ${round((performance.now() - t0) / 1000, 0)}s]`, ...m)
// --cpu-prof: the service under load writes V8 CPU profiles into bench/results/profiles/.
const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'profiles')}`] : []

const work = await mkdtemp(join(tmpdir(), 'ephemeral-bench-'))
// nginx's worker runs as another user: let it into the folder.
await chmod(work, 0o755)
try {
  if (only.has('stream') || only.has('degrade')) await streamAndDegrade()
  if (only.has('upload')) await uploadCase()
  if (only.has('memory')) await memory()
  if (only.has('startup')) await startup()
} finally {
  await stopAll()
  await rm(work, { recursive: true, force: true })
}
results.machine.loadAverageAtEnd = loadavg().map(n => round(n, 2))
results.totalSeconds = round((performance.now() - t0) / 1000, 0)
results.targets = targets()
await mkdir(RESULTS, { recursive: true })
const json = JSON.stringify(results, null, 2) + '\n'
const file = join(RESULTS, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}${args.label ? '-' + args.label : ''}.json`)
await writeFile(file, json)
await writeFile(join(RESULTS, 'latest.json'), json)
printTable()
console.log(`\nJSON: ${file}`)

async function folders (name, { history = false } = {}) {
  const audioDir = join(work, name, 'audio')
  const metadataDir = join(work, name, 'metadata')
  await mkdir(audioDir, { recursive: true })
  await chmod(join(work, name), 0o755)
  await chmod(audioDir, 0o755)
  if (history && args.history !== undefined) {
    await mkdir(metadataDir, { recursive: true })
    await copyFile(args.history, join(metadataDir, 'history.sqlite'))
  }
  return { audioDir, metadataDir }
}

async function streamAndDegrade () {
  const dirs = await folders('main', { history: true })
  const short = await writeTrack(join(dirs.audioDir, 'track-60s.wav'), { seconds: 60 })
  const long = only.has('degrade') ? await writeTrack(join(dirs.audioDir, 'track-60min.wav'), { seconds: 3600 }) : undefined
  log('tracks written; starting the service')
  const ours = await startService({ ...dirs, env: { DECAY_ENGINE: args.engine }, nodeArgs })
  try {
    if (only.has('stream')) results.streaming = await streaming(ours, dirs.audioDir, short)
    if (only.has('degrade') && long !== undefined) {
      const perTrack = {}
      for (const [key, track] of [['track60s', short], ['track60min', long]]) {
        const name = track.path.split('/').at(-1)
        const segments = Math.ceil(track.seconds / SEGMENT_SECONDS)
        const play = {
          server: ours,
          path: `/degrade/${name}`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ segment_index: 0 }),
          setupRequest: randomSegmentBody(segments),
          connections: DEGRADE_CONNECTIONS,
          seconds: SECONDS
        }
        log(`degrade ${name}: as fast as it goes`)
        const figure = await measure(play)
        // Latency at the target's load, requests evenly spaced: a closed loop at saturation only measures its own queue (50 / throughput).
        log(`degrade ${name}: at ${DEGRADE_RATE} plays/s`)
        const atRate = await paced({ ...play, body: randomSegment(segments), rate: DEGRADE_RATE })
        // Every acknowledged play must be counted: the figures are of real, durable plays.
        const stats = await (await fetch(`${ours.url}/stats/${name}`)).json()
        figure.playsCounted = stats.segment_play_counts.reduce((a, b) => a + b, 0)
        figure.playsAcknowledged = figure.ok + figure.warmupOk + atRate.ok + atRate.warmupOk
        figure.segments = segments
        figure.atRate = atRate
        perTrack[key] = figure
      }
      results.degrade = { ...perTrack, ratio60minTo60s: round(perTrack.track60min.requestsPerSecond / perTrack.track60s.requestsPerSecond, 2) }
    }
    results.mainServiceStartMs = round(ours.readyMs, 0)
  } finally {
    await stop(ours)
    await rm(join(work, 'main'), { recursive: true, force: true })
  }
}

async function uploadCase () {
  const dirs = await folders('upload', { history: true })
  const track = await writeTrack(join(dirs.audioDir, 'track-60s.wav'), { seconds: 60 })
  log('upload: encoding a 60-minute MP3 with ffmpeg')
  const mp3 = writeMp3(join(work, 'upload-60min.mp3'))
  const ours = await startService({ ...dirs, env: UPLOAD_ENV, nodeArgs })
  try {
    results.upload = await uploadDuringPlays({ server: ours, trackName: 'track-60s.wav', segments: Math.ceil(track.seconds / SEGMENT_SECONDS), rate: DEGRADE_RATE, connections: DEGRADE_CONNECTIONS, seconds: SECONDS, mp3, log })
  } finally {
    await stop(ours)
    await rm(join(work, 'upload'), { recursive: true, force: true })
  }
}

async function streaming (ours, audioDir, track) {
  const name = track.path.split('/').at(-1)
  const peer = await startPeer({ audioDir })
  const nginx = await startNginx({ audioDir, workDir: work })
  const servers = { ours, peer, ...(nginx !== undefined ? { nginx } : {}) }
  const out = { track: { name, bytes: track.size }, whole: {}, range: {} }
  try {
    for (const [kind, setupRequest] of [['whole', undefined], ['range', rangeRequest(track.size)]]) {
      const rounds = Object.fromEntries(Object.keys(servers).map(server => [server, []]))
      for (let round = 0; round < STREAM_ROUNDS; round++) {
        for (const [server, s] of Object.entries(servers)) {
          log(`stream ${kind} ${server} (round ${round + 1} of ${STREAM_ROUNDS})`)
          rounds[server].push(await measure({ server: s, path: `/stream/${name}`, connections: STREAM_CONNECTIONS[kind], seconds: SECONDS / STREAM_ROUNDS, warmupSeconds: round === 0 ? 1 : 0, setupRequest }))
        }
      }
      for (const server of Object.keys(servers)) out[kind][server] = combine(rounds[server])
      const figures = out[kind]
      figures.oursToPeer = round(figures.ours.requestsPerSecond / figures.peer.requestsPerSecond, 2)
      if (figures.nginx !== undefined) {
        figures.nginxToPeer = round(figures.nginx.requestsPerSecond / figures.peer.requestsPerSecond, 2)
        figures.oursToNginx = round(figures.ours.requestsPerSecond / figures.nginx.requestsPerSecond, 2)
      }
    }
  } finally {
    await stop(peer)
    if (nginx !== undefined) await stop(nginx)
  }
  return out
}

async function memory () {
  // The 1 GB track and the service's pristine copy of it, with room to spare.
  const { bavail, bsize } = await statfs(work)
  if (bavail * bsize < 4e9) {
    log(`memory: skipped, ${round(bavail * bsize / 1e9, 1)} GB free in ${work} (4 GB needed)`)
    results.memory = { skipped: 'not enough free disk space' }
    return
  }
  const dirs = await folders('memory')
  const path = join(dirs.audioDir, 'track-1gb.wav')
  log('writing the 1 GB track')
  const track = await writeTrack(path, { bytes: 1e9 })
  const service = await startService({ ...dirs, nodeArgs })
  try {
    const idle = memoryOf(service.child.pid)
    log(`${MEMORY_CLIENTS} clients stream the 1 GB track`)
    const figure = await manyStreams({ server: service, path: '/stream/track-1gb.wav', clients: MEMORY_CLIENTS, seconds: MEMORY_SECONDS })
    results.memory = { trackBytes: track.size, idleRssMb: round(idle.rssMb, 0), ...figure }
  } finally {
    await stop(service)
    await rm(join(work, 'memory'), { recursive: true, force: true })
  }
}

async function startup () {
  const empty = await folders('empty')
  const none = await startService(empty)
  await stop(none)
  const dirs = await folders('startup')
  log(`writing ${STARTUP_TRACKS} tracks`)
  await writeManyTracks(dirs.audioDir, STARTUP_TRACKS, 1)
  // First start: nothing prepared yet. It must listen at once and prepare the library in the background.
  const first = await startService(dirs)
  const preparingAtListen = (await (await fetch(`${first.url}/`)).json()).tracks_preparing
  for (;;) {
    const info = await (await fetch(`${first.url}/`)).json()
    if (info.tracks_preparing === 0) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const preparedMs = performance.now() - first.startedAt
  const listed = await (await fetch(`${first.url}/tracks`)).json()
  await stop(first)
  const restarts = []
  for (let i = 0; i < 3; i++) {
    const s = await startService(dirs)
    restarts.push(round(s.readyMs, 0))
    await stop(s)
  }
  restarts.sort((a, b) => a - b)
  results.startup = {
    tracks: STARTUP_TRACKS,
    tracksListed: listed.length,
    metadataFiles: (await readdir(dirs.metadataDir)).filter(n => n.endsWith('.json')).length,
    emptyMs: round(none.readyMs, 0),
    firstStartMs: round(first.readyMs, 0),
    preparingAtListen,
    allPreparedMs: round(preparedMs, 0),
    restartMs: restarts[1],
    restartsMs: restarts,
    loadAverage: loadavg().map(n => round(n, 2))
  }
}

function targets () {
  const list = []
  const add = (name, value, goal, met) => list.push({ name, value, goal, met })
  const s = results.streaming
  if (s !== undefined) {
    add('whole-file GET req/s, ours / @fastify/static', s.whole.oursToPeer, '>= 1.5', s.whole.oursToPeer >= 1.5)
    add('256 KiB range GET req/s, ours / @fastify/static', s.range.oursToPeer, '>= 1.5', s.range.oursToPeer >= 1.5)
  }
  const d = results.degrade
  if (d !== undefined) {
    add('durable plays/s, 60-s track, 50 connections', d.track60s.requestsPerSecond, '>= 2000', d.track60s.requestsPerSecond >= 2000)
    add(`degrade p99 ms at ${DEGRADE_RATE} plays/s, 60-s track`, d.track60s.atRate.latencyMs.p99, '< 10', d.track60s.atRate.latencyMs.p99 < 10 && d.track60s.atRate.requestsPerSecond >= DEGRADE_RATE * 0.95)
    add('degrade p99 ms at full speed, 60-s track (if the target meant saturation: a closed loop of 50 waits about 50 / throughput)', d.track60s.latencyMs.p99, '< 10', d.track60s.latencyMs.p99 < 10)
    const errors = ['track60s', 'track60min'].reduce((n, k) => n + d[k].errors + d[k].atRate.errors + d[k].warmupErrors + d[k].atRate.warmupErrors, 0)
    // Plays in flight when a run stops are counted but never acknowledged: only the reverse is a loss.
    const lost = ['track60s', 'track60min'].reduce((n, k) => n + Math.max(0, d[k].playsAcknowledged - d[k].playsCounted), 0)
    add('degrade errors and acknowledged plays not counted (both tracks)', errors + lost, '0', errors === 0 && lost === 0)
    add('plays/s ratio 60-min / 60-s', d.ratio60minTo60s, '>= 0.8', d.ratio60minTo60s >= 0.8)
  }
  const up = results.upload
  if (up !== undefined) {
    add(`degrade p99 ms at ${DEGRADE_RATE} plays/s while a 60-min MP3 uploads (${up.alone.latencyMs.p99} ms without)`, up.during.latencyMs.p99, '< 20', up.during.latencyMs.p99 < 20 && up.during.errors === 0 && up.upload.status === 201)
  }
  const m = results.memory?.skipped === undefined ? results.memory : undefined
  if (m !== undefined) add(`peak RSS MB, ${m.clients} streams of a 1 GB track`, m.peakRssMb, '< 200', m.peakRssMb < 200 && m.errors === 0)
  const u = results.startup
  if (u !== undefined) {
    add(`first start to listening ms with ${u.tracks} new tracks`, u.firstStartMs, '< 2000', u.firstStartMs < 2000)
    add(`restart to listening ms with ${u.tracks} tracks`, u.restartMs, '< 2000', u.restartMs < 2000 && u.tracksListed === u.tracks)
  }
  return list
}

function printTable () {
  const rows = []
  const row = (...cells) => rows.push(cells.map(String))
  const ms = n => (n === undefined ? '-' : String(n))
  const loadOf = f => `${f.load.otherCores}`
  const cpu = f => String(Math.round(f.load.serverCores * 1e6 / f.requestsPerSecond))
  const s = results.streaming
  if (s !== undefined) {
    for (const kind of ['whole', 'range']) {
      const title = kind === 'whole' ? `whole-file GET (${round(s.track.bytes / 1e6, 1)} MB), ${STREAM_CONNECTIONS.whole} conn` : `random 256 KiB ranges, ${STREAM_CONNECTIONS.range} conn`
      for (const server of ['ours', 'peer', 'nginx']) {
        const f = s[kind][server]
        const label = server === 'peer' ? '@fastify/static' : server
        if (f === undefined) { row(title, label, 'not installed', '', '', '', '', '', ''); continue }
        row(title, label, f.requestsPerSecond, f.mbPerSecond, ms(f.latencyMs.p50), ms(f.latencyMs.p99), f.errors, cpu(f), loadOf(f))
      }
      row(title, 'ours / @fastify/static', `${s[kind].oursToPeer}x`, '', '', '', '', '', '')
      if (s[kind].nginx !== undefined) row(title, 'ours / nginx', `${s[kind].oursToNginx}x`, '', '', '', '', '', '')
    }
  }
  const d = results.degrade
  if (d !== undefined) {
    for (const [key, title] of [['track60s', '60-s track'], ['track60min', '60-min track']]) {
      const f = d[key]
      row(`degrade, ${DEGRADE_CONNECTIONS} conn`, `${title}${args.engine === 'dropout' ? '' : `, ${args.engine}`}, full speed`, f.requestsPerSecond, '', ms(f.latencyMs.p50), ms(f.latencyMs.p99), f.errors, cpu(f), loadOf(f))
      row(`degrade, ${DEGRADE_CONNECTIONS} conn`, `${title}, at ${DEGRADE_RATE}/s`, f.atRate.requestsPerSecond, '', ms(f.atRate.latencyMs.p50), ms(f.atRate.latencyMs.p99), f.atRate.errors, cpu(f.atRate), loadOf(f.atRate))
    }
    row(`degrade, ${DEGRADE_CONNECTIONS} conn`, '60-min / 60-s', `${d.ratio60minTo60s}x`, '', '', '', '', '', '')
  }
  const up = results.upload
  if (up !== undefined) {
    row(`degrade, ${DEGRADE_CONNECTIONS} conn`, `60-s track at ${DEGRADE_RATE}/s, no upload`, up.alone.requestsPerSecond, '', ms(up.alone.latencyMs.p50), ms(up.alone.latencyMs.p99), up.alone.errors, cpu(up.alone), loadOf(up.alone))
    row(`degrade, ${DEGRADE_CONNECTIONS} conn`, `same, 60-min MP3 uploading (${round(up.mp3Bytes / 1e6, 0)} MB, ${up.upload.status} in ${up.upload.seconds} s)`, up.during.requestsPerSecond, '', ms(up.during.latencyMs.p50), ms(up.during.latencyMs.p99), up.during.errors, cpu(up.during), loadOf(up.during))
  }
  const m = results.memory?.skipped === undefined ? results.memory : undefined
  if (m !== undefined) row(`memory: ${m.clients} x 1 GB streams, ${m.seconds} s`, `peak RSS ${m.peakRssMb} MB (idle ${m.idleRssMb})`, '', m.mbPerSecond, '', '', m.errors, '', m.load.otherCores)
  const u = results.startup
  if (u !== undefined) {
    row('start-up to listening', 'empty AUDIO_DIR', `${u.emptyMs} ms`, '', '', '', '', '', '')
    row('start-up to listening', `${u.tracks} tracks, first start`, `${u.firstStartMs} ms (${u.preparingAtListen} still preparing)`, '', '', '', '', '', '')
    row('first start, every track prepared', `${u.tracks} tracks`, `${u.allPreparedMs} ms`, '', '', '', '', '', '')
    row('start-up to listening', `${u.tracks} tracks, restart`, `${u.restartMs} ms`, '', '', '', '', '', '')
  }
  const header = ['figure', 'server / case', 'req/s', 'MB/s', 'p50 ms', 'p99 ms', 'errors', 'CPU us/req', 'other load']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = cells => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const history = results.settings.history === undefined ? '' : `, starting with a ${results.settings.history.mb} MB history`
  console.log(`\nEphemeral Audio bench (${results.machine.cores} x ${results.machine.cpu}, node ${results.machine.node}, load ${results.machine.loadAverageAtStart.join(' ')}), ${results.totalSeconds} s, ANALYTICS=${results.settings.analytics}${history}`)
  console.log('"CPU us/req": the server\'s CPU time (all its threads) per request; "other load": cores other processes used meanwhile.\n')
  console.log(line(header))
  console.log(widths.map(w => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
  console.log('\nTargets:')
  for (const t of results.targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'}  ${t.name}: ${t.value} (target ${t.goal})`)
  if (results.machine.nginx === 'not installed') console.log('  nginx: not installed')
}
