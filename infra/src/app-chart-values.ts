import type { IdentityMode, StackConfig } from './config.js'

/** What the stack knows that the app chart needs. Tokens are fine: CDK resolves them at deploy. */
export interface AppChartInputs {
  readonly region: string
  readonly identityMode: IdentityMode
  readonly trustDomain: string
  /** className of the SPIRE controller manager installed by the stack. */
  readonly spireClassName: string
  readonly publicBaseUrl: string
  readonly images: StackConfig['images']
  readonly roleArns: {
    readonly urlService: string
    readonly worker: string
  }
  readonly db: {
    readonly secretArn: string
    readonly host: string
    readonly port: number
    readonly name: string
    readonly caBundle: string
  }
  readonly queueUrl: string
  readonly databaseCidrs: readonly string[]
  readonly awsEndpointCidrs: readonly string[]
  /** Where pods get addresses (the node subnets with the VPC CNI). */
  readonly podCidrs: readonly string[]
  /** Where an internet-facing load balancer connects from. */
  readonly publicCidrs: readonly string[]
}

// ===========================================================================
// WIRING: stack outputs -> charts/zero-trust-eks values.
// This is the only place that knows the chart's value names (see
// charts/zero-trust-eks/values.yaml). Rename here when the chart renames.
// ===========================================================================
export function appChartValues(inputs: AppChartInputs): Record<string, unknown> {
  return {
    trustDomain: inputs.trustDomain,
    publicBaseUrl: inputs.publicBaseUrl,
    images: inputs.images,
    aws: {
      region: inputs.region,
      identity: inputs.identityMode,
      // Used only for the IRSA annotation; harmless (and informative) with Pod Identity.
      roleArns: inputs.roleArns,
    },
    db: {
      secretArn: inputs.db.secretArn,
      host: inputs.db.host,
      port: inputs.db.port,
      name: inputs.db.name,
      caBundle: inputs.db.caBundle,
    },
    events: { queueUrl: inputs.queueUrl },
    spiffe: { className: inputs.spireClassName },
    network: {
      databaseCidrs: [...inputs.databaseCidrs],
      awsEndpointCidrs: [...inputs.awsEndpointCidrs],
    },
    // X-Forwarded-For is trusted one hop at a time, so rate limits key on the
    // browser's address: the frontend trusts a load balancer (public subnets)
    // or an ingress controller pod; the gateway trusts the frontend pods.
    frontend: { trustedProxies: [...inputs.publicCidrs, ...inputs.podCidrs] },
    apiGateway: { trustedProxies: [...inputs.podCidrs] },
  }
}
