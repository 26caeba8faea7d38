/**
 * The configuration contract: which environment variables each process reads
 * (each service's src/config.ts parses them). Compose may set only these,
 * so a renamed or misspelt variable fails CI instead of silently falling back
 * to a default.
 */
export interface ServiceContract {
  /** Variables the compose service must set. */
  required: readonly string[]
  /** Variables it may set besides the required ones. */
  optional: readonly string[]
  /** Groups of which exactly one variable must be set. */
  exactlyOne: readonly (readonly string[])[]
  /** The ops port the healthcheck must probe (the value of OPS_PORT). */
  opsPort: string | undefined
}

const COMMON = ['LOG_LEVEL', 'HOST', 'OPS_PORT', 'DRAIN_DELAY_MS', 'SHUTDOWN_TIMEOUT_MS'] as const
const SPIFFE = ['TRUST_DOMAIN', 'SPIFFE_ENDPOINT_SOCKET', 'SPIFFE_SVID_DIR'] as const
const DB = [
  'DB_SECRET_ARN',
  'DATABASE_URL',
  'DB_HOST',
  'DB_PORT',
  'DB_NAME',
  'DB_SSL_MODE',
  'DB_SSL_CA_FILE',
  'DB_SECRET_TTL_SECONDS',
  'DB_POOL_MAX',
] as const
/** The AWS SDK's own variables: endpoints are redirected only through AWS_ENDPOINT_URL_<SERVICE>. */
export const AWS_SDK = [
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ENDPOINT_URL_SQS',
  'AWS_ENDPOINT_URL_STS',
] as const

export const CONTRACT: Readonly<Record<string, ServiceContract>> = {
  frontend: {
    required: ['PORT', 'OPS_PORT', 'API_GATEWAY_URL'],
    optional: [...COMMON],
    exactlyOne: [],
    opsPort: '9080',
  },
  'api-gateway': {
    required: ['PORT', 'OPS_PORT', 'TRUST_DOMAIN', 'URL_SERVICE_URL', 'PUBLIC_BASE_URL'],
    optional: [
      ...COMMON,
      ...SPIFFE,
      'URL_SERVICE_ID',
      'TRUSTED_PROXIES',
      'RATE_LIMIT_MAX',
      'RATE_LIMIT_WINDOW_MS',
      'UPSTREAM_TIMEOUT_MS',
    ],
    exactlyOne: [['SPIFFE_ENDPOINT_SOCKET', 'SPIFFE_SVID_DIR']],
    opsPort: '9000',
  },
  'url-service': {
    required: ['PORT', 'OPS_PORT', 'TRUST_DOMAIN', 'AWS_REGION', 'EVENTS_QUEUE_URL'],
    optional: [...COMMON, ...SPIFFE, ...DB, ...AWS_SDK, 'AUTHORIZED_CALLERS'],
    exactlyOne: [
      ['SPIFFE_ENDPOINT_SOCKET', 'SPIFFE_SVID_DIR'],
      ['DB_SECRET_ARN', 'DATABASE_URL'],
    ],
    opsPort: '9443',
  },
  worker: {
    required: ['OPS_PORT', 'AWS_REGION', 'EVENTS_QUEUE_URL'],
    optional: [...COMMON, ...DB, ...AWS_SDK],
    exactlyOne: [['DB_SECRET_ARN', 'DATABASE_URL']],
    opsPort: '9444',
  },
  migrate: {
    required: ['AWS_REGION'],
    optional: ['LOG_LEVEL', ...DB, ...AWS_SDK],
    exactlyOne: [['DB_SECRET_ARN', 'DATABASE_URL']],
    opsPort: undefined,
  },
  // The dev CA takes its settings as arguments; it reads no environment.
  'dev-ca': { required: [], optional: [], exactlyOne: [], opsPort: undefined },
}
