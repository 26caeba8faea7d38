/**
 * Each service's environment: the variables its src/config.ts reads. Whatever
 * writes an environment for a service (devkit's stack, the testing entries,
 * e2e) types it with these, and each config.ts fails to compile when its zod
 * schema reads a different set, so a renamed variable cannot drift apart.
 * They live here, not in the services, because devkit starts the services and
 * the services' tests use devkit: a dependency either way would be a cycle.
 */

/** A service's environment: each listed variable, as the string an environment holds. */
export type EnvOf<Names extends readonly string[]> = Partial<Record<Names[number], string>>

const serving = [
  'LOG_LEVEL',
  'HOST',
  'PORT',
  'OPS_PORT',
  'DRAIN_DELAY_MS',
  'SHUTDOWN_TIMEOUT_MS',
] as const

const spiffe = ['TRUST_DOMAIN', 'SPIFFE_ENDPOINT_SOCKET', 'SPIFFE_SVID_DIR'] as const

/** What url-service's migrate, API server and worker all read (loadConfig). */
export const urlServiceEnvNames = [
  ...serving,
  'DB_SECRET_ARN',
  'DATABASE_URL',
  'DB_HOST',
  'DB_PORT',
  'DB_NAME',
  'DB_SSL_MODE',
  'DB_SSL_CA_FILE',
  'DB_SECRET_TTL_SECONDS',
  'DB_POOL_MAX',
  'DB_POOL_MAX_LIFETIME_SECONDS',
  'AWS_REGION',
] as const
export type UrlServiceEnv = EnvOf<typeof urlServiceEnvNames>

/** url-service's API server (loadServerConfig): the shared settings, its callers and SPIFFE. */
export const urlServiceServerEnvNames = [
  ...urlServiceEnvNames,
  'AUTHORIZED_CALLERS',
  'EVENTS_QUEUE_URL',
  ...spiffe,
] as const
export type UrlServiceServerEnv = EnvOf<typeof urlServiceServerEnvNames>

/** url-service's worker (loadWorkerConfig): the shared settings and the queue's. */
export const workerEnvNames = [
  ...urlServiceEnvNames,
  'EVENTS_QUEUE_URL',
  'EVENTS_WAIT_TIME_SECONDS',
  'EVENTS_VISIBILITY_TIMEOUT_SECONDS',
  'EVENTS_DEDUP_RETENTION_HOURS',
] as const
export type WorkerEnv = EnvOf<typeof workerEnvNames>

export const apiGatewayEnvNames = [
  ...serving,
  'URL_SERVICE_URL',
  'URL_SERVICE_ID',
  'PUBLIC_BASE_URL',
  'TRUSTED_PROXIES',
  'RATE_LIMIT_MAX',
  'RATE_LIMIT_WINDOW_MS',
  'UPSTREAM_TIMEOUT_MS',
  ...spiffe,
] as const
export type ApiGatewayEnv = EnvOf<typeof apiGatewayEnvNames>

export const frontendEnvNames = [...serving, 'API_GATEWAY_URL', 'TRUSTED_PROXIES'] as const
export type FrontendEnv = EnvOf<typeof frontendEnvNames>

/**
 * Read by OpenTelemetry in every service (service-kit's instrument module),
 * not by a config schema: the standard names, so any collector setup works.
 */
export const tracingEnvNames = [
  'OTEL_SDK_DISABLED',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
] as const

/**
 * Read by the AWS SDK and Node, not by a config schema: where the emulators
 * are, the SDK's local-only credentials, the runtime mode.
 */
export const runtimeEnvNames = [
  'AWS_ENDPOINT_URL_SQS',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_EC2_METADATA_DISABLED',
  'NODE_ENV',
  ...tracingEnvNames,
] as const
export type RuntimeEnv = EnvOf<typeof runtimeEnvNames>
