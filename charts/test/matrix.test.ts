/**
 * The reachability the chart's NetworkPolicies produce, asserted exactly:
 * any flow added or lost by a template change fails here.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { type K8sObject, renderChart } from '../src/helm.js'
import { formatMatrix, reachabilityMatrix } from '../src/netpol/matrix.js'

type Row = [source: string, destination: string, ports: string]
const rows = (objects: readonly K8sObject[]): Row[] =>
  reachabilityMatrix(objects).map((flow) => [flow.source, flow.destination, flow.ports.join(' ')])

const dns = '53/UDP 53/TCP'
// public/frontend-test is the `helm test` Job's pod: it runs as the frontend
// (same `app` label, so the same flows) and may also call the frontend.
const base: Row[] = [
  ['ingress-nginx/ingress-nginx', 'public/frontend', '8080/TCP'],
  ['ingress-nginx/ingress-nginx', 'public/frontend-test', '8080/TCP'],
  ['public/frontend', 'kube-system/kube-dns', dns],
  ['public/frontend', 'services/api-gateway', '8000/TCP'],
  ['public/frontend-test', 'kube-system/kube-dns', dns],
  ['public/frontend-test', 'public/frontend', '8080/TCP'],
  ['public/frontend-test', 'services/api-gateway', '8000/TCP'],
  ['services/api-gateway', 'kube-system/kube-dns', dns],
  ['services/api-gateway', 'services/url-service', '8443/TCP'],
]
const awsWorkload = (name: string, podIdentity: boolean): Row[] => [
  [`services/${name}`, 'aws-endpoint 10.0.0.10', '443/TCP'],
  [`services/${name}`, 'database 10.0.32.10', '5432/TCP'],
  [`services/${name}`, 'kube-system/kube-dns', dns],
  ...(podIdentity
    ? [[`services/${name}`, 'pod-identity-agent 169.254.170.23', '80/TCP'] as Row]
    : []),
]

t.test('example values (IRSA): exactly the flows docs/network-policies.md lists', async (t) => {
  t.same(rows(renderChart()), [
    ...base,
    ...awsWorkload('url-service', false),
    ...awsWorkload('worker', false),
  ])
})

t.test('Pod Identity adds the agent on TCP 80 for the AWS workloads only', async (t) => {
  t.same(rows(renderChart(['pod-identity.yaml'])), [
    ...base,
    ...awsWorkload('url-service', true),
    ...awsWorkload('worker', true),
  ])
})

t.test('Prometheus scraping opens each ops port to Prometheus and nothing else', async (t) => {
  const flows = rows(renderChart([], ['network.prometheus.enabled=true']))
  t.same(
    flows.filter(([source]) => source === 'monitoring/prometheus'),
    [
      ['monitoring/prometheus', 'public/frontend', '9080/TCP'],
      ['monitoring/prometheus', 'public/frontend-test', '9080/TCP'],
      ['monitoring/prometheus', 'services/api-gateway', '9000/TCP'],
      ['monitoring/prometheus', 'services/url-service', '9443/TCP'],
      ['monitoring/prometheus', 'services/worker', '9444/TCP'],
    ],
  )
  t.equal(flows.length, rows(renderChart()).length + 5)
})

t.test(
  'tracing on: every app pod reaches the collector on 4318, and nothing else changes',
  async (t) => {
    const collector = 'observability/otel-collector'
    const otlp = (source: string): Row => [source, collector, '4318/TCP']
    t.same(
      rows(renderChart(['tracing.yaml'])),
      [
        ...base,
        ...awsWorkload('url-service', false),
        ...awsWorkload('worker', false),
        otlp('public/frontend'),
        otlp('public/frontend-test'),
        otlp('services/api-gateway'),
        otlp('services/url-service'),
        otlp('services/worker'),
      ].sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1])),
    )
    // Off (the example values), the collector is a pod nobody reaches.
    t.notOk(rows(renderChart()).some((row) => row[1] === collector))
    // The port follows the endpoint; other pods of the collector's namespace stay closed.
    const moved = rows(
      renderChart(['tracing.yaml'], ['tracing.endpoint=http://otel-collector.observability:4317']),
    )
    t.notOk(
      moved.some((row) => row[1] === collector),
      'the policy follows the endpoint to 4317, so 4318 stays closed',
    )
    const otherLabels = rows(
      renderChart(['tracing.yaml'], ['tracing.collector.podLabels.app=jaeger']),
    )
    t.notOk(
      otherLabels.some((row) => row[1] === collector),
      'a selector the collector lacks opens nothing',
    )
  },
)

t.test('public policies off: the frontend is open, services is not', async (t) => {
  const flows = rows(renderChart(['public-policies-off.yaml']))
  t.ok(
    flows.some(
      (row) => row[0] === 'internet 1.1.1.1' && row[1] === 'public/frontend' && row[2] === 'any',
    ),
  )
  t.ok(flows.some((row) => row[0] === 'public/frontend' && row[1] === 'imds 169.254.169.254'))
  // Whatever `public` does, services admits the frontend (and the test pod running as it) on 8000 only.
  t.same(
    flows.filter(([, destination]) => destination.startsWith('services/')),
    [
      ['public/frontend', 'services/api-gateway', '8000/TCP'],
      ['public/frontend-test', 'services/api-gateway', '8000/TCP'],
      ['services/api-gateway', 'services/url-service', '8443/TCP'],
    ],
  )
})

t.test(
  'a 0.0.0.0/0 AWS CIDR opens 443 everywhere except the instance metadata address',
  async (t) => {
    const flows = rows(renderChart(['wide-aws-egress.yaml']))
    t.ok(
      flows.some(
        (row) =>
          row[0] === 'services/worker' && row[1] === 'internet 1.1.1.1' && row[2] === '443/TCP',
      ),
    )
    t.notOk(
      flows.some((row) => row[1].startsWith('imds')),
      'IMDS is excepted',
    )
    // ipBlock also covers pod addresses on the VPC CNI: pods whose own ingress is not isolated are reachable.
    t.ok(flows.some((row) => row[0] === 'services/worker' && row[1] === 'monitoring/prometheus'))
  },
)

t.test('the matrix notices a missing policy (negative control)', async (t) => {
  const objects = renderChart().filter(
    (object) => !(object.kind === 'NetworkPolicy' && object.metadata.name === 'allow-dns-egress'),
  )
  t.notOk(
    rows(objects).some((row) => row[1] === 'kube-system/kube-dns'),
    'no DNS without its policy',
  )
  const withoutExcept = renderChart(['wide-aws-egress.yaml']).map((object) =>
    object.metadata.name === 'allow-aws-endpoints-egress'
      ? (JSON.parse(
          JSON.stringify(object).replaceAll('"except":["169.254.169.254/32"]', '"except":[]'),
        ) as K8sObject)
      : object,
  )
  t.ok(
    rows(withoutExcept).some(
      (row) => row[0] === 'services/worker' && row[1] === 'imds 169.254.169.254',
    ),
    'without the except the wide CIDR would reach IMDS',
  )
})

t.test('formatMatrix prints aligned columns with a header', async (t) => {
  const text = formatMatrix([{ source: 'a', destination: 'bbb', ports: ['1/TCP', '2/UDP'] }])
  t.equal(text, 'SOURCE  DESTINATION  PORTS\na       bbb          1/TCP 2/UDP')
})

t.test(
  'pnpm matrix takes a values file of your own, by a path relative to where you typed it',
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'zt-matrix-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    // With an ALB ingress the frontend admits the ALB's subnets instead of the
    // ingress-nginx pods, so their row leaves the matrix.
    writeFileSync(
      join(dir, 'mine.yaml'),
      'ingress:\n  enabled: true\n  className: alb\n  alb:\n    sourceCidrs: [198.51.100.0/24]\n',
    )
    const run = spawnSync(
      process.execPath,
      ['--import=tsx', join(import.meta.dirname, '..', 'scripts', 'matrix.ts'), '--', 'mine.yaml'],
      { encoding: 'utf8', env: { ...process.env, INIT_CWD: dir }, timeout: 60_000 },
    )
    t.equal(run.status, 0, run.stderr)
    t.match(run.stdout, `(${join(dir, 'mine.yaml')})`)
    t.notMatch(run.stdout, /ingress-nginx/)
    t.end()
  },
)
