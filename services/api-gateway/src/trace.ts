import { randomBytes } from 'node:crypto'

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
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`
}
