/**
 * Tracing, loaded before the service with `node --import
 * @zt/service-kit/instrument dist/server.js`: pg and the AWS SDK are patched
 * as they load, so this must run before the app's first import.
 *
 * Off unless an OTLP endpoint is set and OTEL_SDK_DISABLED is not "true":
 * then neither the SDK nor a module hook is loaded, and the API the services
 * call is its no-op, so tracing off costs next to nothing.
 */
import { register } from 'node:module'

const endpoint =
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT
// The images set this module in NODE_OPTIONS, which also reaches their
// `node -e` health checks: only a script (a service, the worker) is traced.
const script = process.argv[1] !== undefined
if (process.env.OTEL_SDK_DISABLED !== 'true' && endpoint && script) {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)
  const { startTracing } = await import('./tracing.js')
  startTracing()
}
