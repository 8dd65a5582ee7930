import { writeSync } from 'node:fs'
import { WAV_LIMITS } from '../riff.js'
import type { WavFormat } from '../wav-format.js'
import { wavHeader } from '../wav-writer.js'
import { corrupt, unplayable } from './upload-error.js'

const WRITE_BUFFER_BYTES = 1 << 20
/** A RIFF file counts its size in 32 bits. */
export const MAX_WAV_BYTES = 0xffffffff
const HEADER_BYTES = wavHeader({ encoding: 'int', bitsPerSample: 16, channels: 1, sampleRate: 8000, blockAlign: 2 }, 0).length

/** Sequential writes to an open file descriptor, gathered into large writes. */
export class FileWriter {
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES)
  private buffered = 0
  private readonly fd: number
  private position: number

  constructor (fd: number, position = 0) {
    this.fd = fd
    this.position = position
  }

  write (bytes: Uint8Array): void {
    if (this.buffered + bytes.length > this.buffer.length) this.flush()
    if (bytes.length >= this.buffer.length) {
      this.writeFully(bytes, this.position)
      this.position += bytes.length
      return
    }
    this.buffer.set(bytes, this.buffered)
    this.buffered += bytes.length
  }

  flush (): void {
    this.writeFully(this.buffer.subarray(0, this.buffered), this.position)
    this.position += this.buffered
    this.buffered = 0
  }

  writeAt (bytes: Uint8Array, position: number): void {
    this.writeFully(bytes, position)
  }

  private writeFully (bytes: Uint8Array, position: number): void {
    for (let done = 0; done < bytes.length;) {
      done += writeSync(this.fd, bytes, done, bytes.length - done, position + done)
    }
  }
}

/**
 * A PCM WAV file written as the frames come: room for the header first, the
 * sizes filled in by `finish` once the frame count is known.
 */
export class WavSink {
  private readonly file: FileWriter
  format: WavFormat | undefined
  private dataBytes = 0
  private readonly maxDataBytes: number

  constructor (fd: number, maxFileBytes: number) {
    this.file = new FileWriter(fd, HEADER_BYTES)
    // The data chunk is padded to an even size: leave room for that byte.
    this.maxDataBytes = Math.min(maxFileBytes, MAX_WAV_BYTES) - HEADER_BYTES - 1
  }

  /** Fix the format before the first frames; a stream may not change it later. */
  start (format: WavFormat): void {
    const was = this.format
    if (was === undefined) {
      checkPlayable(format)
      this.format = format
    } else if (was.sampleRate !== format.sampleRate || was.channels !== format.channels ||
      was.bitsPerSample !== format.bitsPerSample || was.encoding !== format.encoding) {
      throw corrupt(`the stream changes format mid-way (${describe(was)}, then ${describe(format)}); the service stores one format per track`)
    }
  }

  /** Whole frames in the format given to `start`. */
  write (frames: Uint8Array): void {
    if (frames.length === 0) return
    if (this.dataBytes + frames.length > this.maxDataBytes) {
      throw unplayable(`the decoded audio is too long: over ${this.maxDataBytes} bytes of PCM, more than the service stores in one track`)
    }
    this.file.write(frames)
    this.dataBytes += frames.length
  }

  /** Write the header with the final sizes; returns the frame count. */
  finish (): number {
    const format = this.format
    if (format === undefined || this.dataBytes === 0) throw unplayable('the file holds no audio frames')
    if (this.dataBytes % 2 === 1) this.file.write(Buffer.alloc(1))
    this.file.flush()
    this.file.writeAt(wavHeader(format, this.dataBytes), 0)
    return this.dataBytes / format.blockAlign
  }
}

function checkPlayable (format: WavFormat): void {
  const { minSampleRate, maxSampleRate, maxChannels } = WAV_LIMITS
  if (format.sampleRate < minSampleRate || format.sampleRate > maxSampleRate) {
    throw unplayable(`the sample rate is ${format.sampleRate} Hz; the service plays ${minSampleRate} Hz to ${maxSampleRate} Hz`)
  }
  if (format.channels < 1 || format.channels > maxChannels) {
    throw unplayable(`the audio has ${format.channels} channels; the service plays 1 to ${maxChannels}`)
  }
}

function describe (format: WavFormat): string {
  return `${format.sampleRate} Hz, ${format.channels} channel(s), ${format.bitsPerSample}-bit ${format.encoding}`
}
