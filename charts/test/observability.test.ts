/**
 * The operator's view as the chart renders it: OTLP settings and the
 * collector's NetworkPolicy.
 */
import t from 'tap'
import { helmTemplate, type K8sObject, renderChart } from '../src/helm.js'

interface EnvVar {
  name: string
  value?: string
  valueFrom?: { fieldRef?: { fieldPath: string } }
}
interface PodTemplate {
  metadata: { labels: Record<string, string> }
  spec: {
    containers: { name: string; env?: EnvVar[]; ports?: { name?: string }[] }[]
    initContainers?: { name: string; env?: EnvVar[] }[]
  }
}

const workloads = ['frontend', 'api-gateway', 'url-service', 'worker']
const deployments = (objects: readonly K8sObject[]) =>
  objects.filter((object) => object.kind === 'Deployment')
const templateOf = (deployment: K8sObject) =>
  (deployment.spec as { template: PodTemplate }).template
const appEnv = (objects: readonly K8sObject[], name: string): EnvVar[] => {
  const deployment = deployments(objects).find((object) => object.metadata.name === name)
  if (!deployment) throw new Error(`no ${name} Deployment`)
  const container = templateOf(deployment).spec.containers.find((c) => c.name === name)
  return container?.env ?? []
}
const otelNames = (env: readonly EnvVar[]) =>
  env.map((e) => e.name).filter((name) => name.startsWith('OTEL_'))
const ofKind = (objects: readonly K8sObject[], kind: string) =>
  objects.filter((object) => object.kind === kind)
const otlpPolicies = (objects: readonly K8sObject[]) =>
  ofKind(objects, 'NetworkPolicy').filter((object) => object.metadata.name === 'allow-otlp-egress')
interface EgressSpec {
  egress: { to: { podSelector?: unknown }[]; ports: { port: number }[] }[]
}
const firstEgress = (objects: readonly K8sObject[]) =>
  (otlpPolicies(objects)[0]?.spec as EgressSpec | undefined)?.egress[0]

t.test('tracing off (the default): the SDK is disabled and nothing is opened', async (t) => {
  const objects = renderChart()
  t.equal(deployments(objects).length, workloads.length)
  for (const name of workloads) {
    const env = appEnv(objects, name)
    t.same(otelNames(env), ['OTEL_SDK_DISABLED'], name)
    t.equal(env.find((e) => e.name === 'OTEL_SDK_DISABLED')?.value, 'true', name)
  }
  t.same(otlpPolicies(objects), [])
})

t.test(
  'tracing on: the standard OTEL_* variables, the pod named by the downward API',
  async (t) => {
    const objects = renderChart(['tracing.yaml'])
    for (const name of workloads) {
      const env = appEnv(objects, name)
      const value = (key: string) => env.find((e) => e.name === key)?.value
      t.notOk(otelNames(env).includes('OTEL_SDK_DISABLED'), name)
      t.equal(value('OTEL_SERVICE_NAME'), name)
      t.equal(value('OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://otel-collector.observability:4318')
      t.equal(value('OTEL_TRACES_SAMPLER'), 'parentbased_traceidratio')
      t.equal(value('OTEL_TRACES_SAMPLER_ARG'), '0.1')
      t.equal(
        value('OTEL_RESOURCE_ATTRIBUTES'),
        'k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)',
      )
      // $(VAR) expands only variables defined earlier in the list.
      const position = (key: string) => env.findIndex((e) => e.name === key)
      for (const [variable, fieldPath] of [
        ['POD_NAMESPACE', 'metadata.namespace'],
        ['POD_NAME', 'metadata.name'],
      ] as const) {
        t.equal(env[position(variable)]?.valueFrom?.fieldRef?.fieldPath, fieldPath, name)
        t.ok(
          position(variable) < position('OTEL_RESOURCE_ATTRIBUTES'),
          `${name}: ${variable} first`,
        )
      }
    }
    const sampled = renderChart(['tracing.yaml'], ['tracing.samplerArg=1'])
    t.equal(appEnv(sampled, 'worker').find((e) => e.name === 'OTEL_TRACES_SAMPLER_ARG')?.value, '1')
  },
)

t.test('tracing on: one egress policy per isolated namespace, to the collector only', async (t) => {
  const policies = otlpPolicies(renderChart(['tracing.yaml']))
  t.same(policies.map((policy) => policy.metadata.namespace).sort(), ['public', 'services'])
  for (const policy of policies) {
    t.same(policy.spec, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': 'observability' },
              },
              podSelector: { matchLabels: { 'app.kubernetes.io/name': 'opentelemetry-collector' } },
            },
          ],
          ports: [{ protocol: 'TCP', port: 4318 }],
        },
      ],
    })
  }
  const port = (set: string[]) => firstEgress(renderChart(['tracing.yaml'], set))?.ports[0]?.port
  t.equal(port(['tracing.endpoint=https://collector.observability']), 443, 'https without a port')
  t.equal(port(['tracing.endpoint=http://collector.observability']), 80, 'http without a port')
  t.equal(port(['tracing.endpoint=http://collector.observability:4317']), 4317)
  // Labels you give replace the default selector instead of joining it.
  const relabelled = firstEgress(
    renderChart(['tracing.yaml'], ['tracing.collector.podLabels.app=collector']),
  )
  t.same(relabelled?.to[0]?.podSelector, { matchLabels: { app: 'collector' } })
  // Without policies in `public` the frontend is open anyway: only services gets one.
  const publicOff = otlpPolicies(renderChart(['tracing.yaml', 'public-policies-off.yaml']))
  t.same(
    publicOff.map((policy) => policy.metadata.namespace),
    ['services'],
  )
})

t.test('the schema refuses an endpoint the policy could not express', async (t) => {
  for (const set of [
    'tracing.endpoint=http://otel-collector.observability:4318/v1/traces',
    'tracing.endpoint=grpc://otel-collector:4317',
    'tracing.endpoint=',
    'tracing.samplerArg=2',
    'tracing.sampler=sometimes',
  ]) {
    const result = helmTemplate(['tracing.enabled=true', set])
    t.equal(result.status, 1, set)
  }
})
