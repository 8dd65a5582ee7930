import { execFile } from 'node:child_process'
import { chown, mkdtemp, readdir, rm, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

/**
 * A PostgreSQL server of the test's own: initdb in a temporary folder, on a
 * free loopback port, with the server's durability settings as shipped
 * (fsync on: the crash tests rely on a commit being a commit). It runs as the
 * `postgres` user when the tests run as root (initdb refuses root).
 */
export interface TestPostgres {
  /** A connection string for a new, empty database of its own. */
  database: (name?: string) => Promise<string>
  /** The server's admin connection string (database `postgres`). */
  adminUrl: string
  port: number
  stop: () => Promise<void>
}

/** The newest Debian PostgreSQL binaries (PG_BIN overrides). */
async function binDir (): Promise<string> {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [] as string[])).map(Number).filter(Number.isFinite).sort((a, b) => b - a)
  if (versions[0] === undefined) throw new Error('PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)')
  return `/usr/lib/postgresql/${versions[0]}/bin`
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

let databases = 0

export async function startPostgres (): Promise<TestPostgres> {
  const bin = await binDir()
  const dir = await mkdtemp(join(tmpdir(), 'ea-pg-'))
  const data = join(dir, 'data')
  const asRoot = process.getuid?.() === 0
  const as = async (file: string, args: string[]) => asRoot
    ? await run('runuser', ['-u', 'postgres', '--', join(bin, file), ...args])
    : await run(join(bin, file), args)
  if (asRoot) {
    const { uid, gid } = await postgresIds()
    await chown(dir, uid, gid)
  }
  // -N: initdb's own files need not be synced (a throwaway cluster); the server itself keeps fsync on.
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'app', '-N', '-E', 'UTF8', '--locale=C'])
  const port = await freePort()
  const log = join(dir, 'server.log')
  try {
    await as('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=300`, 'start'])
  } catch (err) {
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${await readFile(log, 'utf8').catch(() => '')}`)
  }
  const adminUrl = `postgres://app@127.0.0.1:${port}/postgres`
  let stopped = false
  return {
    adminUrl,
    port,
    async database (name = `t${process.pid}_${++databases}`) {
      const client = new pg.Client(adminUrl)
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${name}`)
      } finally {
        await client.end()
      }
      return `postgres://app@127.0.0.1:${port}/${name}`
    },
    async stop () {
      if (stopped) return
      stopped = true
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }
}

async function postgresIds (): Promise<{ uid: number, gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8')
  const line = passwd.split('\n').find(l => l.startsWith('postgres:'))
  const [, , uid, gid] = line?.split(':') ?? []
  if (uid === undefined || gid === undefined) throw new Error('no postgres user: apt-get install postgresql creates it')
  return { uid: Number(uid), gid: Number(gid) }
}
