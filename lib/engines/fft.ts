/**
 * A small radix-4 FFT for the convolution reverb of `dissolve`, on separate
 * real and imaginary Float64Arrays, in place. The forward transform leaves
 * its bins in bit-reversed order and the inverse takes them in that order:
 * a convolution only multiplies bins pairwise, so the reordering passes are
 * never needed (a quarter of the time saved). Written here rather than taken
 * from npm: it is short, needs nothing to keep up, and its numbers depend
 * only on Math.cos/Math.sin of the plan, so renders match on every machine.
 */
export interface FftPlan {
  readonly size: number
  /** Per radix-4 stage of quarter q, at offset[stage]: for k < q, cos and −sin of 2πk/4q, 2·2πk/4q and 3·2πk/4q. */
  readonly twiddles: Float64Array
  readonly quarters: Int32Array
  readonly offsets: Int32Array
}

const plans = new Map<number, FftPlan>()

/** The plan for a power-of-two size ≥ 4, made once and kept. */
export function fftPlan (size: number): FftPlan {
  const known = plans.get(size)
  if (known !== undefined) return known
  if (size < 4 || (size & (size - 1)) !== 0) throw new RangeError(`FFT size ${size} is not a power of two ≥ 4`)
  const quarters: number[] = []
  for (let span = size; span >= 4; span >>= 2) quarters.push(span >> 2)
  const offsets: number[] = []
  let total = 0
  for (const q of quarters) {
    offsets.push(total)
    total += 6 * q
  }
  const twiddles = new Float64Array(total)
  quarters.forEach((q, stage) => {
    const base = offsets[stage] as number
    for (let k = 0; k < q; k++) {
      for (let m = 1; m <= 3; m++) {
        const angle = 2 * Math.PI * m * k / (4 * q)
        twiddles[base + 6 * k + 2 * (m - 1)] = Math.cos(angle)
        twiddles[base + 6 * k + 2 * (m - 1) + 1] = -Math.sin(angle)
      }
    }
  })
  const plan = { size, twiddles, quarters: Int32Array.from(quarters), offsets: Int32Array.from(offsets) }
  plans.set(size, plan)
  return plan
}

/** The DFT X[k] = Σ x[n]·e^(−2πikn/N), bin k left at the bit reversal of k. */
export function fftToBitReversed (plan: FftPlan, re: Float64Array, im: Float64Array): void {
  const { size, twiddles: w, quarters, offsets } = plan
  for (let stage = 0; stage < quarters.length; stage++) {
    const q = quarters[stage] as number
    const off = offsets[stage] as number
    for (let base = 0; base < size; base += 4 * q) {
      for (let k = 0; k < q; k++) {
        const i0 = base + k
        const i1 = i0 + q
        const i2 = i1 + q
        const i3 = i2 + q
        const a0r = (re[i0] as number) + (re[i2] as number)
        const a0i = (im[i0] as number) + (im[i2] as number)
        const a1r = (re[i0] as number) - (re[i2] as number)
        const a1i = (im[i0] as number) - (im[i2] as number)
        const b0r = (re[i1] as number) + (re[i3] as number)
        const b0i = (im[i1] as number) + (im[i3] as number)
        const b1r = (re[i1] as number) - (re[i3] as number)
        const b1i = (im[i1] as number) - (im[i3] as number)
        const t = off + 6 * k
        const c1 = w[t] as number
        const s1 = w[t + 1] as number
        const c2 = w[t + 2] as number
        const s2 = w[t + 3] as number
        const c3 = w[t + 4] as number
        const s3 = w[t + 5] as number
        re[i0] = a0r + b0r
        im[i0] = a0i + b0i
        const dr = a0r - b0r
        const di = a0i - b0i
        re[i1] = dr * c2 - di * s2
        im[i1] = dr * s2 + di * c2
        const er = a1r + b1i
        const ei = a1i - b1r
        re[i2] = er * c1 - ei * s1
        im[i2] = er * s1 + ei * c1
        const fr = a1r - b1i
        const fi = a1i + b1r
        re[i3] = fr * c3 - fi * s3
        im[i3] = fr * s3 + fi * c3
      }
    }
  }
  // An odd power of two ends with one radix-2 stage of span 2, whose twiddle is 1.
  if ((quarters[quarters.length - 1] as number) === 2) {
    for (let i = 0; i < size; i += 2) {
      const r = re[i] as number
      const m = im[i] as number
      re[i] = r + (re[i + 1] as number)
      im[i] = m + (im[i + 1] as number)
      re[i + 1] = r - (re[i + 1] as number)
      im[i + 1] = m - (im[i + 1] as number)
    }
  }
}

/** Undo fftToBitReversed, unscaled: the result is size × the original. */
export function inverseFftFromBitReversed (plan: FftPlan, re: Float64Array, im: Float64Array): void {
  const { size, twiddles: w, quarters, offsets } = plan
  if ((quarters[quarters.length - 1] as number) === 2) {
    for (let i = 0; i < size; i += 2) {
      const r = re[i] as number
      const m = im[i] as number
      re[i] = r + (re[i + 1] as number)
      im[i] = m + (im[i + 1] as number)
      re[i + 1] = r - (re[i + 1] as number)
      im[i + 1] = m - (im[i + 1] as number)
    }
  }
  for (let stage = quarters.length - 1; stage >= 0; stage--) {
    const q = quarters[stage] as number
    const off = offsets[stage] as number
    for (let base = 0; base < size; base += 4 * q) {
      for (let k = 0; k < q; k++) {
        const i0 = base + k
        const i1 = i0 + q
        const i2 = i1 + q
        const i3 = i2 + q
        const t = off + 6 * k
        const c1 = w[t] as number
        const s1 = w[t + 1] as number
        const c2 = w[t + 2] as number
        const s2 = w[t + 3] as number
        const c3 = w[t + 4] as number
        const s3 = w[t + 5] as number
        // Multiply by the conjugate twiddles, then undo the sums and differences (each doubles).
        const z1r = re[i1] as number
        const z1i = im[i1] as number
        const u1r = z1r * c2 + z1i * s2
        const u1i = z1i * c2 - z1r * s2
        const z2r = re[i2] as number
        const z2i = im[i2] as number
        const u2r = z2r * c1 + z2i * s1
        const u2i = z2i * c1 - z2r * s1
        const z3r = re[i3] as number
        const z3i = im[i3] as number
        const u3r = z3r * c3 + z3i * s3
        const u3i = z3i * c3 - z3r * s3
        const z0r = re[i0] as number
        const z0i = im[i0] as number
        const ar = z0r + u1r
        const ai = z0i + u1i
        const br = z0r - u1r
        const bi = z0i - u1i
        const cr = u2r + u3r
        const ci = u2i + u3i
        const dr = u3i - u2i
        const di = u2r - u3r
        re[i0] = ar + cr
        im[i0] = ai + ci
        re[i2] = ar - cr
        im[i2] = ai - ci
        re[i1] = br + dr
        im[i1] = bi + di
        re[i3] = br - dr
        im[i3] = bi - di
      }
    }
  }
}
