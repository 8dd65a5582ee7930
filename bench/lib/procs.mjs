// Starting and stopping the servers under test, and what /proc says about them.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const HOST = '127.0.0.1'

export async function freePort () {
  const server = createServer()
  server.listen(0, HOST)
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

function canConnect (port) {
  return new Promise(resolve => {
    const socket = connect(port, HOST)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Resolves with the milliseconds from `since` to the first accepted connection. */
async function waitForPort (child, port, since, timeoutMs) {
  let exited = false
  child.once('exit', () => { exited = true })
  while (performance.now() - since < timeoutMs) {
    if (exited) throw new Error(`server exited before listening (exit code ${child.exitCode}): ${child.stderrText?.() ?? ''}`)
    if (await canConnect(port)) return performance.now() - since
    await sleep(2)
  }
  throw new Error(`server did not listen on ${port} within ${timeoutMs} ms`)
}

// Every server started and not yet stopped, so that a failing run leaves none behind.
const running = new Set()

function started (command, args, env, port, timeoutMs = 60_000) {
  const since = performance.now()
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const server = { child }
  running.add(server)
  child.once('exit', () => running.delete(server))
  let stderr = ''
  child.stdout.resume()
  child.stderr.on('data', d => { stderr = (stderr + d).slice(-4000) })
  child.stderrText = () => stderr
  return waitForPort(child, port, since, timeoutMs).then(readyMs => ({
    child, port, url: `http://${HOST}:${port}`, readyMs, startedAt: since, stderr: () => stderr
  }))
}

/** The service, compiled, as production runs it. */
export async function startService ({ audioDir, metadataDir, env = {}, nodeArgs = [] }) {
  const port = await freePort()
  return await started(process.execPath, [...nodeArgs, join(ROOT, 'dist/server.js')], {
    AUDIO_DIR: audioDir,
    METADATA_DIR: metadataDir,
    PORT: String(port),
    HOST,
    DEGRADE_RATE_LIMIT: '0',
    LOG_LEVEL: 'warn',
    DEMO_TRACK: 'false',
    ...env
  }, port)
}

/** The best Node peer: a plain Fastify instance with @fastify/static on the same folder. */
export async function startPeer ({ audioDir }) {
  const port = await freePort()
  return await started(process.execPath, [join(ROOT, 'bench/peer-static.mjs')], { AUDIO_DIR: audioDir, PORT: String(port) }, port)
}

export function nginxPath () {
  if (process.env.BENCH_NGINX === 'off') return undefined
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate
  }
  return undefined
}

/** nginx with sendfile, one worker (one core, like Node's one event loop), or undefined when not installed. */
export async function startNginx ({ audioDir, workDir }) {
  const nginx = nginxPath()
  if (nginx === undefined) return undefined
  const port = await freePort()
  const prefix = join(workDir, 'nginx')
  await mkdir(prefix, { recursive: true })
  const conf = join(prefix, 'nginx.conf')
  await writeFile(conf, `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { audio/wav wav; }
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  server {
    listen ${HOST}:${port};
    location /stream/ { alias ${audioDir}/; }
  }
}
`)
  return await started(nginx, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], {}, port)
}

export async function stopAll () {
  await Promise.all([...running].map(stop))
}

export async function stop (server, timeoutMs = 20_000) {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await exited
  clearTimeout(timer)
}

/** Resident memory now and at its peak (VmHWM), in MB, of one process. */
export function memoryOf (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = name => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 }
}

function childPids (pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** CPU seconds used so far by a process and its children (nginx's worker). */
function cpuSecondsOf (pid) {
  let ticks = 0
  for (const p of [pid, ...childPids(pid)]) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks += Number(fields[11]) + Number(fields[12]) // utime, stime
    } catch {}
  }
  return ticks / 100
}

function machineBusySeconds () {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0)
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0)
  return (total - idle) / 100
}

/**
 * CPU the rest of the machine used while a figure was measured (in cores),
 * so a figure taken while other engineers' tests ran can be recognised.
 */
export function loadMeter (serverPids) {
  const wall = performance.now()
  const busy = machineBusySeconds()
  const ours = serverPids.reduce((n, pid) => n + cpuSecondsOf(pid), 0)
  const self = process.cpuUsage()
  return () => {
    const seconds = (performance.now() - wall) / 1000
    const serverCpu = serverPids.reduce((n, pid) => n + cpuSecondsOf(pid), 0) - ours
    const selfUsage = process.cpuUsage(self)
    const selfCpu = (selfUsage.user + selfUsage.system) / 1e6
    const machine = machineBusySeconds() - busy
    return {
      serverCores: round(serverCpu / seconds, 2),
      loadGeneratorCores: round(selfCpu / seconds, 2),
      otherCores: round(Math.max(0, machine - serverCpu - selfCpu) / seconds, 2)
    }
  }
}

let quietBudgetSeconds = Number(process.env.BENCH_QUIET_BUDGET ?? 30)

/**
 * The machine is shared: before a figure, wait (within a budget for the whole
 * run) until other processes use less than `threshold` cores. Returns the wait.
 */
export async function waitForQuiet (threshold = 0.3) {
  const since = performance.now()
  while (quietBudgetSeconds > 0) {
    const before = machineBusySeconds()
    await sleep(500)
    quietBudgetSeconds -= 0.5
    if ((machineBusySeconds() - before) / 0.5 < threshold) break
  }
  return round((performance.now() - since) / 1000, 1)
}

export function round (n, digits = 1) {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** What every bench result records of the machine it ran on; `extra` names what that bench also depends on. */
export function machine (extra = {}) {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: round(totalmem() / 2 ** 30, 1),
    kernel: release(),
    node: process.version,
    ...extra,
    loadAverageAtStart: loadavg().map(n => round(n, 2))
  }
}
