export { ConfigError, env, parseConfig, type ReadsExactly } from './config.js'
export { installJsonBodyParser } from './json-body.js'
export { type Listener, type RunOptions, runService } from './lifecycle.js'
export { fastifyBaseOptions, loggerOptions, redactPaths, requestId } from './logger.js'
export { createRegistry, installHttpMetrics, installSvidMetrics, type Validity } from './metrics.js'
export { buildOpsServer, type OpsOptions, type OpsServer, type ReadinessCheck } from './ops.js'
export {
  type FieldError,
  HttpProblem,
  installProblemHandlers,
  type Problem,
  problemContentType,
  problemFrameworkErrors,
  sendProblem,
} from './problem.js'
export { createPublicApp, type PublicAppOptions, refuseHttp09 } from './public-app.js'
export {
  activeSpanContext,
  currentTraceparent,
  flushTraces,
  ignoreIncomingTraceContext,
  inLinkedSpan,
  installTraceResponse,
  recordSpiffeIds,
  type SpiffeIds,
  untraced,
  withSpiffeIds,
} from './trace-context.js'
