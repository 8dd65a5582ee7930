import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url))

/** Node arguments that run the TypeScript sources as the tests do (type stripping, `.js` imports mapped to `.ts`). */
export function sourceLoader (): string[] {
  return [`--import=${fileURLToPath(new URL('./ts-resolve.mjs', import.meta.url))}`]
}

export interface ServiceProcess {
  child: ChildProcess
  url: string
  /** Log lines the service printed (JSON). */
  logs: string[]
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * Run server.ts in a child process, as production does, through the same
 * TypeScript loader tap runs this test with. Resolves once it listens.
 */
export async function startService (env: Record<string, string>): Promise<ServiceProcess> {
  const loader = sourceLoader()
  const child = spawn(process.execPath, [...loader, SERVER], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', DEMO_TRACK: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: string[] = []
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', line => {
      logs.push(line)
      const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(line)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    exited.then(({ code }) => reject(new Error(`service exited (${code}) before listening: ${stderr}`)))
  })
  return { child, url, logs, exited }
}
