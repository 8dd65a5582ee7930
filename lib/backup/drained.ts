/** Anything that says 'drain' when it wants more and 'close' when it is gone: Node's streams and tar-stream's. */
interface Drainable {
  readonly destroyed: boolean
  once: (event: 'drain' | 'close', listener: () => void) => unknown
  off: (event: 'drain' | 'close', listener: () => void) => unknown
}

/** Wait until `stream` wants more data; fail if it is closed (destroyed) first, or already. */
export async function drained (stream: Drainable, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    // A destroyed stream refuses every write and never drains: its 'close' may be past.
    if (stream.destroyed) return reject(new Error(`${what} was closed`))
    const onDrain = () => { stream.off('close', onClose); resolve() }
    const onClose = () => { stream.off('drain', onDrain); reject(new Error(`${what} was closed`)) }
    stream.once('drain', onDrain)
    stream.once('close', onClose)
  })
}
