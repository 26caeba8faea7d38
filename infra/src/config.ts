import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { Node } from 'constructs'
import { z } from 'zod'

/**
 * How pods get AWS credentials. `podIdentity` (EKS Pod Identity, AWS's
 * recommended successor) or `irsa` (IAM roles for service accounts via the
 * cluster's OIDC provider). Both give one role per workload; only the trust
 * policy and the wiring differ.
 */
export const identityModes = ['irsa', 'podIdentity'] as const
export type IdentityMode = (typeof identityModes)[number]

const cidr = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR such as 203.0.113.0/24')
  .refine((value) => {
    const [address = '', bits = ''] = value.split('/')
    return address.split('.').every((octet) => Number(octet) <= 255) && Number(bits) <= 32
  }, 'an IPv4 CIDR such as 203.0.113.0/24')
  // 0.0.0.0/0 would turn "restricted by CIDR" into "public to everyone".
  .refine((value) => !value.endsWith('/0'), 'a CIDR narrower than /0')

const image = z.object({
  repository: z.string().min(1),
  digest: z
    .string()
    .regex(/^(sha256:[a-f0-9]{64})?$/)
    .default(''),
  tag: z.string().default(''),
})

export const stackConfigSchema = z.object({
  account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1'),
  identityMode: z.enum(identityModes).default('podIdentity'),
  // SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' only.
  trustDomain: z.string().regex(/^[a-z0-9._-]+$/, 'a SPIFFE trust domain such as prod.example.com'),
  publicBaseUrl: z.url({ protocol: /^https?$/ }),
  images: z.object({ frontend: image, apiGateway: image, urlService: image }),
  /** PEM of the CA bundle that signs the RDS certificate (the regional RDS bundle). */
  dbCaBundle: z.string().includes('-----BEGIN CERTIFICATE-----'),
  deletionProtection: z.boolean().default(true),
  /** Empty: the Kubernetes API endpoint is private only. */
  publicEndpointCidrs: z.array(cidr).default([]),
  /** IAM role or user ARN given cluster-admin through an EKS access entry. */
  adminPrincipalArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/)
    .optional(),
  /** E-mail subscribed to the KMS key alarm topic. */
  alarmEmail: z.email().optional(),
  natGateways: z.number().int().min(1).max(3).default(1),
  nodeInstanceType: z.string().default('t3.large'),
  dbInstanceType: z.string().default('t4g.medium'),
})

export type StackConfig = z.infer<typeof stackConfigSchema>
export type StackConfigInput = z.input<typeof stackConfigSchema>

/** Parses a config, naming every bad key in one error. */
export function parseStackConfig(input: unknown): StackConfig {
  const result = stackConfigSchema.safeParse(input)
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `zt:${issue.path.join('.')}: ${issue.message}`,
    )
    throw new Error(`Invalid CDK context:\n  ${problems.join('\n  ')}`)
  }
  return result.data
}

const contextKeys = [
  'account',
  'region',
  'identityMode',
  'trustDomain',
  'publicBaseUrl',
  'images',
  'deletionProtection',
  'publicEndpointCidrs',
  'adminPrincipalArn',
  'alarmEmail',
  'natGateways',
  'nodeInstanceType',
  'dbInstanceType',
] as const

/**
 * Reads the `zt:*` context (cdk.json, or `-c zt:key=value`). Values given on
 * the command line arrive as strings, so lists accept "a,b" and booleans
 * and numbers accept their string spelling.
 */
export function readStackConfig(node: Node, cwd = process.cwd()): StackConfig {
  const raw: Record<string, unknown> = {}
  for (const key of contextKeys) {
    const value: unknown = node.tryGetContext(`zt:${key}`)
    if (value !== undefined) raw[key] = fromCommandLine(key, value)
  }
  const caFile: unknown = node.tryGetContext('zt:dbCaBundleFile')
  if (typeof caFile !== 'string' || caFile === '') {
    throw new Error(
      'Invalid CDK context:\n  zt:dbCaBundleFile: the path of the RDS CA bundle PEM for your region (see docs/deploy.md)',
    )
  }
  raw.dbCaBundle = readFileSync(isAbsolute(caFile) ? caFile : resolve(cwd, caFile), 'utf8')
  return parseStackConfig(raw)
}

function fromCommandLine(key: (typeof contextKeys)[number], value: unknown): unknown {
  if (typeof value !== 'string') return value
  switch (key) {
    case 'publicEndpointCidrs':
      return value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)
    case 'deletionProtection':
      return value === 'true' ? true : value === 'false' ? false : value
    case 'natGateways':
      return /^\d+$/.test(value) ? Number(value) : value
    case 'images':
      return JSON.parse(value)
    default:
      return value
  }
}
