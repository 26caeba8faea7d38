import type { ExportedSpan } from './otlp-json.js'

function milliseconds(span: ExportedSpan): string {
  return `${(Number(span.endNs - span.startNs) / 1e6).toFixed(1)} ms`
}

function describe(span: ExportedSpan): string {
  const peer = span.attributes['spiffe.peer.id']
  const links =
    span.links.length > 0 ? `  links ${span.links.map((l) => l.traceId).join(', ')}` : ''
  return `${span.service}  ${span.name}  ${milliseconds(span)}${peer ? `  peer ${peer}` : ''}${links}`
}

/**
 * The last `count` traces as indented trees, newest last: one line per span
 * (service, name, duration, the peer's SPIFFE ID, linked traces).
 */
export function formatTraces(spans: ExportedSpan[], count: number): string {
  const traces = new Map<string, ExportedSpan[]>()
  for (const span of spans) traces.set(span.traceId, [...(traces.get(span.traceId) ?? []), span])
  // In the order their spans arrived: the last trace is the newest.
  const latest = [...traces.entries()].slice(-count)
  const lines: string[] = []
  for (const [traceId, list] of latest) {
    lines.push(`trace ${traceId}`)
    const ids = new Set(list.map((s) => s.spanId))
    const children = (parent: string) =>
      list
        .filter((s) => (parent === '' ? !ids.has(s.parentSpanId) : s.parentSpanId === parent))
        .sort((a, b) => (a.startNs < b.startNs ? -1 : 1))
    const walk = (parent: string, depth: number) => {
      for (const span of children(parent)) {
        lines.push(`${'  '.repeat(depth + 1)}${describe(span)}`)
        walk(span.spanId, depth + 1)
      }
    }
    walk('', 0)
  }
  return lines.join('\n')
}
