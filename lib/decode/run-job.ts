import type { AudioFormat } from './formats.js'
import { decodeAiff } from './aiff.js'
import { ByteSource } from './byte-source.js'
import { decodeFlac } from './flac.js'
import { decodeMp3 } from './mp3.js'
import { decodeOgg } from './ogg.js'
import { serialiseError, type DecodedFormat, type FromJob, type JobStart, type ToJob } from './protocol.js'
import { corrupt, unplayable } from './upload-error.js'
import { FileWriter, WavSink } from './wav-sink.js'

class Cancelled extends Error {}

/** WAV is stored as sent; the main thread checks it with the service's own parser. */
async function copyWav (source: ByteSource, fd: number, maxFileBytes: number): Promise<undefined> {
  const file = new FileWriter(fd)
  let bytes = 0
  for await (const chunk of source.chunks()) {
    bytes += chunk.length
    if (bytes > maxFileBytes) throw unplayable(`the WAV file is over ${maxFileBytes} bytes, more than the service stores in one track`)
    file.write(chunk)
  }
  file.flush()
  return undefined
}

async function decodeInto (format: Exclude<AudioFormat, 'wav'>, source: ByteSource, sink: WavSink): Promise<void> {
  try {
    switch (format) {
      case 'aiff': return await decodeAiff(source, sink)
      case 'flac': return await decodeFlac(source, sink)
      case 'mp3': return await decodeMp3(source, sink)
      case 'ogg-vorbis': return await decodeOgg('vorbis', source, sink)
      case 'ogg-opus': return await decodeOgg('opus', source, sink)
    }
  } catch (err) {
    // A trap inside a WASM decoder (WebAssembly.RuntimeError, not in this
    // project's type libraries) comes from the bytes it was fed.
    if (err instanceof Error && err.constructor.name === 'RuntimeError') {
      throw corrupt(`the ${format} decoder failed on this file (${err.message})`)
    }
    throw err
  }
}

/**
 * Decode `source` into the file open at `fd`: what a job does, without the
 * messaging (the tests run it on the main thread). Undefined for WAV, which
 * is copied as it is.
 */
export async function decodeInput (format: AudioFormat, source: ByteSource, fd: number, maxFileBytes: number): Promise<DecodedFormat | undefined> {
  if (format === 'wav') return await copyWav(source, fd, maxFileBytes)
  const sink = new WavSink(fd, maxFileBytes)
  await decodeInto(format, source, sink)
  const frames = sink.finish()
  const { sampleRate, channels, bitsPerSample, encoding } = sink.format as NonNullable<typeof sink.format>
  return { sampleRate, channels, bitsPerSample, encoding, frames }
}

/**
 * The part of a core a decode may use. The service runs on small machines
 * (two cores): a 60-minute MP3 decoded flat out would take a core from the
 * plays' event loop for its whole length; at half, it takes twice as long.
 */
const DECODER_CPU_SHARE = 0.5

/** One upload, in the worker: bytes in over `start.port`, PCM out to `start.fd`, one final message. */
export async function runJob (start: JobStart): Promise<void> {
  const { port } = start
  const source = new ByteSource(bytes => { port.postMessage({ type: 'taken', bytes } satisfies FromJob) }, DECODER_CPU_SHARE)
  let cancelled = false
  port.on('message', (message: ToJob) => {
    if (message.type === 'chunk') source.push(message.bytes)
    else if (message.type === 'end') source.end()
    else {
      cancelled = true
      source.fail(new Cancelled('cancelled'))
    }
  })
  let reply: FromJob
  try {
    const decoded = await decodeInput(start.format, source, start.fd, start.maxFileBytes)
    // Read and drop what the decoder left (chunks after an AIFF's sound), so
    // that the sender is never left waiting for room.
    while (await source.readSome() !== undefined);
    reply = { type: 'done', decoded }
  } catch (err) {
    reply = cancelled ? { type: 'cancelled' } : { type: 'failed', error: serialiseError(err) }
  }
  port.postMessage(reply)
  port.close()
}
