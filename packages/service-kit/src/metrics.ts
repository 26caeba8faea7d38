import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** One registry per process, with Node's default process metrics. */
export function createRegistry(service: string): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  return registry
}

/** Request duration by method, route template and status, for the main listener. */
export function installHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests handled by this service',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      {
        method: request.method,
        // The route template, never the raw URL: codes would explode cardinality.
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    )
  })
}

/** When a certificate became valid and when it stops being valid. */
export interface Validity {
  notBefore: Date
  notAfter: Date
}

/**
 * The current X.509 SVID's validity, read at each scrape, so an alert sees a
 * rotation that stalled long before peers start refusing this workload.
 */
export function installSvidMetrics(registry: Registry, validity: () => Validity): void {
  const seconds = (date: Date) => date.getTime() / 1000
  new Gauge({
    name: 'spiffe_svid_expiry_timestamp_seconds',
    help: "When this workload's current X.509 SVID expires, in Unix seconds",
    registers: [registry],
    collect() {
      this.set(seconds(validity().notAfter))
    },
  })
  new Gauge({
    name: 'spiffe_svid_issued_timestamp_seconds',
    help: "When this workload's current X.509 SVID became valid, in Unix seconds",
    registers: [registry],
    collect() {
      this.set(seconds(validity().notBefore))
    },
  })
}
