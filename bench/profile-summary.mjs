// Summarise a V8 .cpuprofile (from `npm run bench -- --cpu-prof`): the
// functions with the most self time, and where their time goes in total.
// Usage: node bench/profile-summary.mjs bench/results/profiles/CPU.xxx.cpuprofile [top]
import { readFileSync } from 'node:fs'

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, 'utf8'))
const top = Number(topArg ?? 25)
const byId = new Map(profile.nodes.map(n => [n.id, n]))
const parent = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const hits = new Map()
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1)
const total = profile.samples.length
const name = n => {
  const f = n.callFrame
  const where = f.url === '' ? '' : ` ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`
  return `${f.functionName || '(anonymous)'}${where}`
}

const self = new Map()
const inclusive = new Map()
for (const [id, count] of hits) {
  const key = name(byId.get(id))
  self.set(key, (self.get(key) ?? 0) + count)
  const seen = new Set()
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const k = name(byId.get(at))
    if (seen.has(k)) continue
    seen.add(k)
    inclusive.set(k, (inclusive.get(k) ?? 0) + count)
  }
}
const pct = n => `${(100 * n / total).toFixed(1).padStart(5)} %`
console.log(`${total} samples\n\nself time:`)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
console.log('\ntotal time (self + callees):')
for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
