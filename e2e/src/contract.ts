/**
 * The configuration contract: which environment variables each process reads
 * (the names are @zt/contracts', which each service's src/config.ts is checked
 * against). Compose may set only these, so a renamed or misspelt variable
 * fails CI instead of silently falling back to a default. What compose must
 * set on top of the services' own defaults is decided here.
 */
import {
  apiGatewayEnvNames,
  frontendEnvNames,
  runtimeEnvNames,
  tracingEnvNames,
  urlServiceEnvNames,
  urlServiceServerEnvNames,
  workerEnvNames,
} from '@zt/contracts'

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

/** The AWS SDK's own variables: endpoints are redirected only through AWS_ENDPOINT_URL_<SERVICE>. */
export const AWS_SDK = [
  'AWS_REGION',
  ...runtimeEnvNames.filter((name) => name.startsWith('AWS_')),
] as const

export const CONTRACT: Readonly<Record<string, ServiceContract>> = {
  frontend: {
    required: ['PORT', 'OPS_PORT', 'API_GATEWAY_URL'],
    optional: [...frontendEnvNames, ...tracingEnvNames],
    exactlyOne: [],
    opsPort: '9080',
  },
  'api-gateway': {
    required: ['PORT', 'OPS_PORT', 'TRUST_DOMAIN', 'URL_SERVICE_URL', 'PUBLIC_BASE_URL'],
    optional: [...apiGatewayEnvNames, ...tracingEnvNames],
    exactlyOne: [['SPIFFE_ENDPOINT_SOCKET', 'SPIFFE_SVID_DIR']],
    opsPort: '9000',
  },
  'url-service': {
    required: ['PORT', 'OPS_PORT', 'TRUST_DOMAIN', 'AWS_REGION', 'EVENTS_QUEUE_URL'],
    optional: [...urlServiceServerEnvNames, ...AWS_SDK, ...tracingEnvNames],
    exactlyOne: [
      ['SPIFFE_ENDPOINT_SOCKET', 'SPIFFE_SVID_DIR'],
      ['DB_SECRET_ARN', 'DATABASE_URL'],
    ],
    opsPort: '9443',
  },
  worker: {
    required: ['OPS_PORT', 'AWS_REGION', 'EVENTS_QUEUE_URL'],
    optional: [...workerEnvNames, ...AWS_SDK, ...tracingEnvNames],
    exactlyOne: [['DB_SECRET_ARN', 'DATABASE_URL']],
    opsPort: '9444',
  },
  migrate: {
    required: ['AWS_REGION'],
    optional: [...urlServiceEnvNames, ...AWS_SDK],
    exactlyOne: [['DB_SECRET_ARN', 'DATABASE_URL']],
    opsPort: undefined,
  },
  // The dev CA takes its settings as arguments; it reads no environment.
  'dev-ca': { required: [], optional: [], exactlyOne: [], opsPort: undefined },
}
