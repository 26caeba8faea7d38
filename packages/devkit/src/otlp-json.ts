/** One span from an OTLP JSON export, flattened with its service's name. */
export interface ExportedSpan {
  service: string
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  startNs: bigint
  endNs: bigint
  attributes: Record<string, string | number | boolean>
  links: { traceId: string; spanId: string }[]
}

interface OtlpValue {
  stringValue?: string
  intValue?: string | number
  doubleValue?: number
  boolValue?: boolean
}
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes?: { key: string; value: OtlpValue }[]
  links?: { traceId: string; spanId: string }[]
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] }
    scopeSpans?: { spans?: OtlpSpan[] }[]
  }[]
}

function plain(value: OtlpValue): string | number | boolean {
  return value.stringValue ?? value.boolValue ?? value.doubleValue ?? Number(value.intValue ?? 0)
}

function attributesOf(list: { key: string; value: OtlpValue }[] = []) {
  return Object.fromEntries(list.map(({ key, value }) => [key, plain(value)]))
}

/** The spans in a traces.jsonl file's text (one OTLP JSON export per line). */
export function parseOtlpLines(text: string): ExportedSpan[] {
  const spans: ExportedSpan[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    for (const resourceSpans of (JSON.parse(line) as OtlpExport).resourceSpans ?? []) {
      const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'])
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          spans.push({
            service,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            startNs: BigInt(span.startTimeUnixNano),
            endNs: BigInt(span.endTimeUnixNano),
            attributes: attributesOf(span.attributes),
            links: (span.links ?? []).map(({ traceId, spanId }) => ({ traceId, spanId })),
          })
        }
      }
    }
  }
  return spans
}
