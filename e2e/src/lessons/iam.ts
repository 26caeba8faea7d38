/**
 * A small model of IAM policy evaluation within one account, for lesson 3:
 * identity-based policies only (no SCPs, permission boundaries, session
 * policies or resource policies). Effect Allow/Deny; Action/NotAction
 * (case-insensitive, `*` and `?` wildcards); Resource/NotResource (wildcards,
 * case-sensitive); Condition with StringEquals and StringLike, where a key
 * missing from the request does not match; an explicit Deny wins over any
 * Allow, and with no Allow the answer is the implicit deny.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

export interface Statement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  Principal?: Json
  Condition?: Record<string, Record<string, string | string[]>>
}

export interface PolicyDocument {
  Version?: string
  Statement: Statement | Statement[]
}

export interface Request {
  action: string
  resource: string
  /** Condition keys of the request, e.g. aws:RequestTag/kubernetes-service-account. */
  context?: Record<string, string>
  /** For trust policies: the calling service principal, e.g. pods.eks.amazonaws.com. */
  principalService?: string
}

export interface Decision {
  decision: 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'
  /** The statements that decided it (the denying ones, or the allowing ones). */
  statements: Statement[]
}

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value]

/** IAM wildcard match: `*` any run of characters, `?` exactly one. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
    .join('')
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value)
}

function actionMatches(statement: Statement, action: string): boolean {
  if (statement.Action !== undefined)
    return list(statement.Action).some((p) => wildcardMatch(p, action, true))
  if (statement.NotAction !== undefined)
    return !list(statement.NotAction).some((p) => wildcardMatch(p, action, true))
  return false
}

function resourceMatches(statement: Statement, resource: string): boolean {
  if (statement.Resource !== undefined)
    return list(statement.Resource).some((p) => wildcardMatch(p, resource))
  if (statement.NotResource !== undefined)
    return !list(statement.NotResource).some((p) => wildcardMatch(p, resource))
  // Trust policies have no Resource: the role itself is the resource.
  return statement.Principal !== undefined
}

function principalMatches(statement: Statement, request: Request): boolean {
  if (statement.Principal === undefined) return true
  const principal = statement.Principal
  if (principal === '*') return true
  if (typeof principal !== 'object' || principal === null || Array.isArray(principal)) return false
  const services = principal.Service
  const names = Array.isArray(services) ? services : services === undefined ? [] : [services]
  return request.principalService !== undefined && names.includes(request.principalService)
}

function conditionMatches(statement: Statement, context: Record<string, string>): boolean {
  for (const [operator, entries] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(entries)) {
      const actual = Object.entries(context).find(
        ([k]) => k.toLowerCase() === key.toLowerCase(),
      )?.[1]
      if (actual === undefined) return false
      const values = list(expected)
      if (operator === 'StringEquals') {
        if (!values.includes(actual)) return false
      } else if (operator === 'StringLike') {
        if (!values.some((v) => wildcardMatch(v, actual))) return false
      } else {
        throw new Error(`condition operator ${operator} is not modelled`)
      }
    }
  }
  return true
}

/** Evaluates `request` against every statement of `policies`, as IAM does within one account. */
export function evaluate(policies: readonly PolicyDocument[], request: Request): Decision {
  const applicable = policies
    .flatMap((policy) => (Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]))
    .filter(
      (s) =>
        principalMatches(s, request) &&
        actionMatches(s, request.action) &&
        resourceMatches(s, request.resource) &&
        conditionMatches(s, request.context ?? {}),
    )
  const denies = applicable.filter((s) => s.Effect === 'Deny')
  if (denies.length > 0) return { decision: 'ExplicitDeny', statements: denies }
  const allows = applicable.filter((s) => s.Effect === 'Allow')
  if (allows.length > 0) return { decision: 'Allow', statements: allows }
  return { decision: 'ImplicitDeny', statements: [] }
}

/**
 * Resolves the CloudFormation intrinsics a synthesized policy uses (Ref,
 * Fn::GetAtt, Fn::Join, pseudo parameters) to ARNs in `account`/`region`,
 * named after the logical IDs, so policies can be compared with requests.
 */
export function resolveIntrinsics(
  value: unknown,
  resources: Record<string, { Type: string }>,
  env: { account: string; region: string },
): unknown {
  const resolve = (v: unknown): unknown => resolveIntrinsics(v, resources, env)
  if (Array.isArray(value)) return value.map(resolve)
  if (value === null || typeof value !== 'object') return value
  const object = value as Record<string, unknown>
  if ('Ref' in object) return arnOf(String(object.Ref), resources, env)
  if ('Fn::GetAtt' in object) {
    const [id] = object['Fn::GetAtt'] as [string, string]
    return arnOf(id, resources, env)
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]]
    return parts.map((part) => String(resolve(part))).join(separator)
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolve(v)]))
}

function arnOf(
  id: string,
  resources: Record<string, { Type: string }>,
  env: { account: string; region: string },
): string {
  if (id === 'AWS::Partition') return 'aws'
  if (id === 'AWS::Region') return env.region
  if (id === 'AWS::AccountId') return env.account
  if (id === 'AWS::URLSuffix') return 'amazonaws.com'
  const type = resources[id]?.Type ?? ''
  const at = `${env.region}:${env.account}`
  switch (type) {
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${at}:${id}`
    case 'AWS::KMS::Key':
      return `arn:aws:kms:${at}:key/${id}`
    case 'AWS::SecretsManager::Secret':
    case 'AWS::SecretsManager::SecretTargetAttachment':
      return `arn:aws:secretsmanager:${at}:secret:${id}`
    case 'AWS::EKS::Cluster':
      return `arn:aws:eks:${at}:cluster/${id}`
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${env.account}:role/${id}`
    default:
      return `arn:aws:cloudformation:${at}:resource/${id}`
  }
}
