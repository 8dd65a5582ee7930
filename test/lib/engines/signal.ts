import { noiseAt } from '../../../lib/engines/engine.js'

/**
 * Music-like test audio with real high-frequency content: a chord of
 * harmonic tones (different per channel, so channels can be told apart) and
 * a hi-hat of decaying noise bursts eight times a second. Deterministic.
 */
export function musicLike (sampleRate: number, frames: number, channels = 2, start = 0): Float64Array[] {
  const out: Float64Array[] = []
  for (let c = 0; c < channels; c++) {
    const plane = new Float64Array(frames)
    const roots = c === 0 ? [220, 277.18, 329.63] : [246.94, 311.13, 369.99]
    for (let i = 0; i < frames; i++) {
      const t = (start + i) / sampleRate
      let v = 0
      for (const f of roots) {
        for (let h = 1; h <= 8; h++) v += Math.sin(2 * Math.PI * f * h * t) * 0.09 / h
      }
      const sinceHit = t % 0.125
      v += noiseAt(7, c, start + i) * 0.2 * Math.exp(-sinceHit * 60)
      plane[i] = v
    }
    out.push(plane)
  }
  return out
}

/** Energy of (a - b) over the energy of b: how far a rendering is from the pristine audio. */
export function relativeDifferenceEnergy (rendered: Float64Array[], pristine: Float64Array[], from = 0): number {
  let diff = 0
  let base = 0
  for (let c = 0; c < pristine.length; c++) {
    const p = pristine[c] as Float64Array
    const r = rendered[c] as Float64Array
    for (let i = from; i < r.length; i++) {
      const d = (r[i] as number) - (p[i] as number)
      diff += d * d
      base += (p[i] as number) ** 2
    }
  }
  return diff / base
}
