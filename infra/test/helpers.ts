import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { parseStackConfig, type StackConfigInput } from '../src/config.js'
import { ZeroTrustEksStack } from '../src/zero-trust-eks-stack.js'

export type Json = Record<string, unknown>

/** Not a real CA: the stack only passes the PEM through to the chart. */
export const testCaBundle = '-----BEGIN CERTIFICATE-----\nTESTONLY\n-----END CERTIFICATE-----\n'

export const sampleInput: StackConfigInput = {
  account: '123456789012',
  region: 'eu-west-1',
  trustDomain: 'zt.example.com',
  publicBaseUrl: 'https://sho.example.com',
  images: {
    frontend: {
      repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/zt/frontend',
      tag: '0.1.0',
    },
    apiGateway: {
      repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/zt/api-gateway',
      tag: '0.1.0',
    },
    urlService: {
      repository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/zt/url-service',
      tag: '0.1.0',
    },
  },
  dbCaBundle: testCaBundle,
}

export interface Synthesized {
  readonly template: Template
  readonly resources: Record<string, { Type: string; Properties?: Json; DependsOn?: string[] }>
  readonly outputs: Record<string, { Value: unknown }>
}

/** One synth of the stack (no validation plugin, no credentials, committed AZ context). */
export function synthesize(overrides: Partial<StackConfigInput> = {}): Synthesized {
  const config = parseStackConfig({ ...sampleInput, ...overrides })
  const context = JSON.parse(readFileSync(new URL('../cdk.context.json', import.meta.url), 'utf8'))
  // Each synth stages the 37 MB kubectl layer: remove the assembly on exit.
  const outdir = mkdtempSync(join(tmpdir(), 'zt-infra-assembly-'))
  process.once('exit', () => rmSync(outdir, { recursive: true, force: true }))
  const app = new App({ context, outdir, builtinCloudFormationValidation: false })
  const stack = new ZeroTrustEksStack(app, 'ZeroTrustEks', {
    env: { account: config.account, region: config.region },
    config,
  })
  const template = Template.fromStack(stack)
  const json = template.toJSON() as {
    Resources: Synthesized['resources']
    Outputs: Synthesized['outputs']
  }
  return { template, resources: json.Resources, outputs: json.Outputs }
}

/** Logical ids of resources of `type` whose id starts with `prefix`. */
export function idsOf(s: Synthesized, type: string, prefix = ''): string[] {
  return Object.keys(s.resources).filter(
    (id) => s.resources[id]?.Type === type && id.startsWith(prefix),
  )
}

/** The Properties of resource `id` ({} when it has none). */
export function propsOf(s: Synthesized, id: string): Json {
  return (s.resources[id]?.Properties ?? {}) as Json
}

/** The single resource of `type` whose logical id starts with `prefix`. */
export function only(s: Synthesized, type: string, prefix = ''): { id: string; props: Json } {
  const ids = idsOf(s, type, prefix)
  if (ids.length !== 1)
    throw new Error(`expected one ${type} ${prefix}*, found ${ids.join(', ') || 'none'}`)
  const id = ids[0] as string
  return { id, props: (s.resources[id]?.Properties ?? {}) as Json }
}

/** The single AWS::EKS::Addon named `name` (AddonName, not the logical id). */
export function addon(s: Synthesized, name: string): { id: string; props: Json } {
  const ids = idsOf(s, 'AWS::EKS::Addon').filter((id) => propsOf(s, id).AddonName === name)
  if (ids.length !== 1) throw new Error(`expected one ${name} add-on, found ${ids.length}`)
  const id = ids[0] as string
  return { id, props: propsOf(s, id) }
}

/** The logical id a {Fn::GetAtt: [id, attr]} points to. */
export function getAttTarget(value: unknown): string {
  const target = ((value as Json | undefined)?.['Fn::GetAtt'] as string[] | undefined)?.[0]
  if (!target) throw new Error(`not a Fn::GetAtt: ${JSON.stringify(value)}`)
  return target
}

/** Every Kubernetes object applied by a KubernetesManifest, with the resource that applies it. */
export function kubernetesObjects(s: Synthesized): { resourceId: string; object: Json }[] {
  return idsOf(s, 'Custom::AWSCDK-EKS-KubernetesResource').flatMap((resourceId) =>
    (JSON.parse(render(propsOf(s, resourceId).Manifest)) as Json[]).map((object) => ({
      resourceId,
      object,
    })),
  )
}

/**
 * Renders CloudFormation intrinsics into readable placeholders: {Ref: X} ->
 * "{{X}}", {Fn::GetAtt: [X, Y]} -> "{{X.Y}}", and joins Fn::Join parts, so a
 * JSON string built from tokens (CfnJson, Helm values) can be parsed and
 * compared exactly.
 */
export function render(value: unknown): string {
  if (typeof value === 'string') return value
  if (value && typeof value === 'object') {
    const v = value as Json
    if ('Ref' in v) return `{{${String(v.Ref)}}}`
    if ('Fn::GetAtt' in v) return `{{${(v['Fn::GetAtt'] as string[]).join('.')}}}`
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]]
      return parts.map(render).join(sep)
    }
    if ('Fn::Select' in v) {
      const [index, list] = v['Fn::Select'] as [number, unknown]
      return `{{Select ${index} of ${render(list)}}}`
    }
    if ('Fn::Split' in v) {
      const [sep, source] = v['Fn::Split'] as [string, unknown]
      return `{{Split ${sep} ${render(source)}}}`
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`)
}

/** Every action and resource in a policy document that contains a wildcard. */
export function wildcards(document: unknown): string[] {
  const found: string[] = []
  const statements = ((document as Json)?.Statement ?? []) as Json[]
  for (const statement of statements) {
    for (const key of ['Action', 'NotAction', 'Resource', 'NotResource']) {
      const raw = statement[key]
      if (raw === undefined) continue
      for (const item of Array.isArray(raw) ? raw : [raw]) {
        const text = typeof item === 'string' ? item : JSON.stringify(item)
        if (text.includes('*')) found.push(`${key}: ${text}`)
      }
    }
  }
  return found
}

const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] })
const ref = (id: string) => ({ Ref: id })

/** The exact inline policy statements each app role must have (same in both identity modes). */
export function expectedPolicies(ids: {
  queue: string
  dataKey: string
  appSecret: string
}): Record<'urlService' | 'worker', Json[]> {
  const readSecret = [
    {
      Sid: 'ReadDbSecret',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: ref(ids.appSecret),
    },
    {
      Sid: 'DecryptDbSecret',
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: getAtt(ids.dataKey),
      Condition: {
        StringEquals: {
          'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com',
          'kms:EncryptionContext:SecretARN': ref(ids.appSecret),
        },
      },
    },
  ]
  const viaQueue = {
    StringEquals: {
      'kms:ViaService': 'sqs.eu-west-1.amazonaws.com',
      'kms:EncryptionContext:aws:sqs:arn': getAtt(ids.queue),
    },
  }
  return {
    urlService: [
      ...readSecret,
      {
        Sid: 'SendEvents',
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: getAtt(ids.queue),
      },
      {
        Sid: 'EncryptEvents',
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: getAtt(ids.dataKey),
        Condition: viaQueue,
      },
    ],
    worker: [
      ...readSecret,
      {
        Sid: 'ConsumeEvents',
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
        Resource: getAtt(ids.queue),
      },
      {
        Sid: 'DecryptEvents',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: getAtt(ids.dataKey),
        Condition: viaQueue,
      },
    ],
  }
}
