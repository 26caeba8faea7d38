import { randomFillSync } from 'node:crypto'

// W3C Trace Context, version 00: version-traceid-parentid-flags, lowercase hex.
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const allZeros = /^0+$/

/**
 * The traceparent to send upstream: the caller's when it is well formed (so
 * the trace continues), else a fresh one with the sampled flag off. Invalid
 * values are replaced rather than forwarded, as the spec requires.
 */
export function traceparentFor(header: string | string[] | undefined): string {
  const value = typeof header === 'string' ? header.trim() : undefined
  const match = value === undefined ? null : traceparentPattern.exec(value)
  if (match && !allZeros.test(match[1] as string) && !allZeros.test(match[2] as string)) {
    return value as string
  }
  const ids = freshIds()
  return `00-${ids.slice(0, 32)}-${ids.slice(32)}-00`
}

// A trace id and a parent id (16 + 8 bytes) per call, cut from one buffer
// refilled every 128 calls, as Node's randomUUID does: two randomBytes calls
// per request were 2% of the gateway's CPU under load.
const idBytes = 24
const pool = Buffer.alloc(idBytes * 128)
let used = pool.length

function freshIds(): string {
  if (used === pool.length) {
    randomFillSync(pool)
    used = 0
  }
  const hex = pool.toString('hex', used, used + idBytes)
  used += idBytes
  return hex
}
