/**
 * The operator's view as the chart renders it: OTLP settings and the
 * collector's NetworkPolicy, the PodMonitors, the alert rules and the Grafana
 * dashboard, whose PromQL may only name metrics the services define.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { helmTemplate, type K8sObject, renderChart } from '../src/helm.js'
import { matchesSelector } from '../src/netpol/selector.js'
import type { LabelSelector } from '../src/netpol/types.js'
import { exportedMetricNames, metricNamesIn } from '../src/promql.js'
import { validateObject } from '../src/validate.js'

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

const exported = exportedMetricNames()
const unexported = (expr: string) => metricNamesIn(expr).filter((name) => !exported.includes(name))

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
      // @zt/service-kit exports with @opentelemetry/exporter-trace-otlp-http, which speaks JSON only.
      t.equal(value('OTEL_EXPORTER_OTLP_PROTOCOL'), 'http/json')
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

t.test(
  'the schema refuses what the policy could not express or the operator would reject',
  async (t) => {
    // Each set with the one switch that makes the chart read it.
    const refused: [enable: string, set: string][] = [
      [
        'tracing.enabled=true',
        'tracing.endpoint=http://otel-collector.observability:4318/v1/traces',
      ],
      ['tracing.enabled=true', 'tracing.endpoint=grpc://otel-collector:4317'],
      ['tracing.enabled=true', 'tracing.endpoint='],
      ['tracing.enabled=true', 'tracing.samplerArg=2'],
      ['tracing.enabled=true', 'tracing.sampler=sometimes'],
      ['network.prometheus.enabled=true', 'metrics.podMonitor.interval=soon'],
      ['network.prometheus.enabled=true', 'metrics.labels.release=not valid'],
      ['network.prometheus.enabled=true', 'metrics.dashboard.namespace=Monitoring'],
      ['network.prometheus.enabled=true', 'metrics.prometheusRule.severity=page'],
    ]
    for (const [enable, set] of refused) t.equal(helmTemplate([enable, set]).status, 1, set)
  },
)

t.test('PodMonitors: off by default, then every workload’s ops port', async (t) => {
  t.same(ofKind(renderChart(), 'PodMonitor'), [])
  const refused = helmTemplate(['metrics.podMonitor.enabled=true'])
  t.equal(refused.status, 1)
  t.match(refused.stderr, /needs network\.prometheus\.enabled/)

  const objects = renderChart(['observability.yaml'])
  const monitors = ofKind(objects, 'PodMonitor')
  t.same(monitors.map((monitor) => monitor.metadata.namespace).sort(), ['public', 'services'])
  for (const monitor of monitors) {
    t.equal(monitor.metadata.labels?.release, 'kube-prometheus-stack', 'the operator’s selector')
    const spec = monitor.spec as {
      selector: LabelSelector
      podMetricsEndpoints: { port: string; path: string }[]
    }
    t.same(
      spec.podMetricsEndpoints.map((e) => [e.port, e.path]),
      [['ops', '/metrics']],
    )
    // Every workload of the monitor's namespace is selected and has the port.
    const own = deployments(objects).filter(
      (deployment) => deployment.metadata.namespace === monitor.metadata.namespace,
    )
    t.ok(own.length > 0)
    for (const deployment of own) {
      const template = templateOf(deployment)
      t.ok(matchesSelector(spec.selector, template.metadata.labels), deployment.metadata.name)
      t.ok(
        template.spec.containers.some((c) => c.ports?.some((p) => p.name === 'ops')),
        `${deployment.metadata.name} has an ops port`,
      )
    }
  }
  // Another release's pods are not scraped twice.
  const spec = monitors[0]?.spec as { selector: LabelSelector }
  t.notOk(
    matchesSelector(spec.selector, {
      'app.kubernetes.io/part-of': 'zero-trust-eks',
      'app.kubernetes.io/instance': 'other',
    }),
  )
})

interface Rule {
  alert: string
  expr: string
  for: string
  labels: Record<string, string>
}
const rulesOf = (objects: readonly K8sObject[]): Rule[] =>
  ofKind(objects, 'PrometheusRule').flatMap((rule) =>
    (rule.spec as { groups: { rules: Rule[] }[] }).groups.flatMap((group) => group.rules),
  )

t.test('PrometheusRule: alerts on metrics the services define, nothing invented', async (t) => {
  t.same(rulesOf(renderChart()), [])
  const rules = rulesOf(renderChart(['observability.yaml']))
  t.same(
    rules.map((rule) => rule.alert),
    ['ZeroTrustEksServerErrors', 'ZeroTrustEksSvidRotationStalled', 'ZeroTrustEksOutboxStale'],
  )
  for (const rule of rules) {
    t.ok(metricNamesIn(rule.expr).length > 0, `${rule.alert} selects a metric`)
    t.same(unexported(rule.expr), [], rule.alert)
    t.ok(rule.labels.severity, `${rule.alert} has a severity`)
  }
  t.same(metricNamesIn(rules[0]?.expr ?? ''), ['http_server_request_duration_seconds'])
  t.match(rules[0]?.expr, /status_code=~"5\.\."/)
  t.same(metricNamesIn(rules[1]?.expr ?? ''), [
    'spiffe_svid_expiry_timestamp_seconds',
    'spiffe_svid_issued_timestamp_seconds',
  ])
  // Readiness's rule (packages/spiffe/src/readiness.ts): a quarter of the lifetime left.
  t.match(rules[1]?.expr, /< 0\.25\s*$/)
  t.same(metricNamesIn(rules[2]?.expr ?? ''), ['events_outbox_oldest_age_seconds'])
  // The rules follow the namespaces the chart deploys to.
  const moved = rulesOf(
    renderChart(['observability.yaml'], ['namespaces.public=web', 'namespaces.services=apps']),
  )
  t.match(moved[0]?.expr, /namespace=~"web\|apps"/)
  t.match(moved[1]?.expr, /namespace=~"web\|apps"/)
  t.match(moved[2]?.expr, /namespace="apps"/)
})

t.test('the Grafana dashboard: a labelled ConfigMap whose panels name real metrics', async (t) => {
  t.same(
    ofKind(renderChart(), 'ConfigMap').filter((c) => c.metadata.labels?.grafana_dashboard),
    [],
  )
  const configMap = ofKind(renderChart(['observability.yaml']), 'ConfigMap').find(
    (c) => c.metadata.name === 'zero-trust-eks-dashboard',
  )
  t.equal(configMap?.metadata.labels?.grafana_dashboard, '1')
  t.equal(configMap?.metadata.namespace, 'monitoring')
  const json = (configMap?.data as Record<string, string> | undefined)?.['zero-trust-eks.json']
  const dashboard = JSON.parse(json ?? '') as {
    uid: string
    panels: { title: string; targets: { expr: string }[] }[]
    templating: { list: { name: string; query: unknown; definition?: string }[] }
  }
  t.equal(dashboard.uid, 'zero-trust-eks')
  const named = new Set<string>()
  for (const panel of dashboard.panels) {
    t.ok(panel.targets.length > 0, panel.title)
    for (const target of panel.targets) {
      t.same(unexported(target.expr), [], `${panel.title}: ${target.expr}`)
      for (const name of metricNamesIn(target.expr)) named.add(name)
    }
  }
  // label_values(<series>, <label>): Grafana's, not PromQL; its first argument is.
  for (const variable of dashboard.templating.list) {
    const series = /^label_values\((.+), *\w+\)$/.exec(variable.definition ?? '')?.[1]
    if (variable.definition) t.ok(series, variable.name)
    if (series) t.same(unexported(series), [], variable.name)
  }
  // The panels the operator needs: requests, latency and 5xx, SVIDs, the outbox, the worker.
  for (const name of [
    'http_server_request_duration_seconds',
    'spiffe_svid_expiry_timestamp_seconds',
    'events_outbox_oldest_age_seconds',
    'events_processed_total',
    'events_duplicates_total',
  ])
    t.ok(named.has(name), `a panel shows ${name}`)
  const moved = ofKind(
    renderChart(['observability.yaml'], ['metrics.dashboard.namespace=grafana']),
    'ConfigMap',
  ).find((c) => c.metadata.name === 'zero-trust-eks-dashboard')
  t.equal(moved?.metadata.namespace, 'grafana')
})

t.test('metricNamesIn: metric names only, histogram series folded', async (t) => {
  t.same(
    metricNamesIn(
      'histogram_quantile(0.95, sum by (service, le) (rate(http_server_request_duration_seconds_bucket{namespace=~"a|b",route!="x"}[$__rate_interval]))) > 0.5',
    ),
    ['http_server_request_duration_seconds'],
  )
  t.same(metricNamesIn('a_total / on (pod) group_left b_seconds_sum offset 5m and bool c'), [
    'a_total',
    'b_seconds',
    'c',
  ])
  t.same(metricNamesIn('vector(1)'), [])
})

t.test('the check fails for a metric the services do not define (negative control)', async (t) => {
  // There is no SVID expiry metric: an alert on one would never fire.
  t.same(unexported('min(spiffe_svid_expiry_seconds) < 600'), ['spiffe_svid_expiry_seconds'])
  t.same(unexported('rate(http_requests_total[5m])'), ['http_requests_total'])
  // And the source scan is a scan: a definition it has not seen is not exported.
  const dir = mkdtempSync(join(tmpdir(), 'zt-metrics-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'metrics.ts')
  writeFileSync(file, "new Gauge({\n  name: 'only_here_seconds',\n  help: 'x',\n})\n")
  t.same(exportedMetricNames([file]), ['only_here_seconds'])
  t.ok(exported.includes('events_outbox_oldest_age_seconds'))
  t.notOk(exported.includes('only_here_seconds'))
})

t.test('the offline validator catches a misspelt PodMonitor or rule field', async (t) => {
  const objects = renderChart(['observability.yaml'])
  const monitor = structuredClone(ofKind(objects, 'PodMonitor')[0] as K8sObject)
  t.doesNotThrow(() => validateObject(monitor))
  ;(monitor.spec as { podMetricsEndpoints: Record<string, unknown>[] }).podMetricsEndpoints[0] = {
    port: 'ops',
    intervall: '30s',
  }
  t.throws(() => validateObject(monitor), /unknown endpoint field intervall/)
  const rule = structuredClone(ofKind(objects, 'PrometheusRule')[0] as K8sObject)
  t.doesNotThrow(() => validateObject(rule))
  const first = (rule.spec as { groups: { rules: Record<string, unknown>[] }[] }).groups[0]
  if (first?.rules[0]) first.rules[0].record = 'also:a:record'
  t.throws(() => validateObject(rule), /exactly one of alert or record/)
})
