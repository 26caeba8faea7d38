/**
 * The chart as helm renders it, for every supported value set: lint, offline
 * schema validation, pod hardening, and the configuration contract of
 * e2e/src/contract.ts (ports, env names, identities).
 */
import { svidFileNames } from '@zt/spiffe'
import t from 'tap'
import {
  chartDir,
  exampleValues,
  helm,
  helmTemplate,
  type K8sObject,
  renderChart,
  valuesDir,
} from '../src/helm.js'
import { type PodSpec, podSecurityViolations } from '../src/pod-security.js'
import { validateObject } from '../src/validate.js'

const valueSets: Record<string, string[]> = {
  'IRSA (example values)': [],
  'Pod Identity': ['pod-identity.yaml'],
  'public policies off': ['public-policies-off.yaml'],
  'HPA on': ['hpa.yaml'],
  'file-based SVIDs': ['spiffe-files.yaml'],
  'tracing and the operator view': ['tracing.yaml', 'observability.yaml'],
}
const rendered = new Map(
  Object.entries(valueSets).map(([name, files]) => [name, renderChart(files)]),
)
const example = rendered.get('IRSA (example values)') ?? []

type HardenedContainer = NonNullable<PodSpec['containers']>[number]
interface Container {
  name: string
  image?: string
  args?: string[]
  env?: { name: string; value?: string }[]
  securityContext?: HardenedContainer['securityContext']
  resources?: HardenedContainer['resources']
  ports?: { name?: string; containerPort: number }[]
  restartPolicy?: string
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[]
  startupProbe?: unknown
  readinessProbe?: { httpGet?: { path: string; port: string } }
  livenessProbe?: { httpGet?: { path: string; port: string } }
}
interface FullPodSpec extends PodSpec {
  serviceAccountName?: string
  terminationGracePeriodSeconds?: number
  containers: Container[]
  initContainers?: Container[]
  volumes?: ({ name: string } & Record<string, unknown>)[]
  topologySpreadConstraints?: unknown[]
}

function podSpecOf(object: K8sObject): FullPodSpec | undefined {
  const spec = object.spec as { template?: { spec: FullPodSpec } } | FullPodSpec
  if (object.kind === 'Pod') return spec as FullPodSpec
  if (object.kind === 'Deployment' || object.kind === 'Job')
    return (spec as { template: { spec: FullPodSpec } }).template.spec
  return undefined
}
const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((object) => object.kind === kind && object.metadata.name === name)
const envOf = (container: Container) =>
  Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]))
const app = (objects: K8sObject[], name: string) => {
  const spec = podSpecOf(find(objects, 'Deployment', name) as K8sObject)
  const container = spec?.containers.find((c) => c.name === name)
  if (!spec || !container) throw new Error(`no ${name} deployment`)
  return { spec, container, env: envOf(container) }
}

interface IngressSpec {
  rules: { http: { paths: { backend: { service: unknown } }[] } }[]
}
type ServiceSpec = { ports: { port: number; targetPort: number }[] }
const servicePort = (objects: K8sObject[], name: string) =>
  ((find(objects, 'Service', name) as K8sObject).spec as ServiceSpec).ports[0]?.port
/** The in-cluster URL of a rendered Service: its name, namespace and port. */
function serviceUrl(objects: K8sObject[], scheme: string, name: string): string {
  const service = find(objects, 'Service', name) as K8sObject
  const namespace = service.metadata.namespace ?? ''
  return `${scheme}://${name}.${namespace}.svc.cluster.local:${servicePort(objects, name)}`
}
/**
 * The SPIFFE ID the workload's ClusterSPIFFEID gives its pods in a SPIRE
 * whose trust domain is `trustDomain` (SPIRE's, set where SPIRE is installed).
 */
function issuedId(objects: K8sObject[], trustDomain: string, name: string): string {
  const entry = objects.find(
    (object) =>
      object.kind === 'ClusterSPIFFEID' &&
      (object.spec as { podSelector: { matchLabels: { app: string } } }).podSelector.matchLabels
        .app === name,
  )
  const template = ((entry as K8sObject).spec as { spiffeIDTemplate: string }).spiffeIDTemplate
  const deployment = find(objects, 'Deployment', name) as K8sObject
  return template
    .replace('{{ .TrustDomain }}', trustDomain)
    .replace('{{ .PodMeta.Namespace }}', deployment.metadata.namespace ?? '')
    .replace('{{ .PodSpec.ServiceAccountName }}', app(objects, name).spec.serviceAccountName ?? '')
}

t.test('helm lint --strict passes for every value set', async (t) => {
  for (const [name, files] of Object.entries(valueSets)) {
    const args = [
      'lint',
      '--strict',
      chartDir,
      '-f',
      exampleValues,
      ...files.flatMap((file) => ['-f', `${valuesDir}/${file}`]),
    ]
    const result = helm(args)
    t.equal(result.status, 0, name)
    if (result.status !== 0) t.comment(result.stdout + result.stderr)
  }
})

t.test('every rendered object validates offline against the Kubernetes schema', async (t) => {
  for (const [name, objects] of rendered) {
    for (const object of objects)
      t.doesNotThrow(
        () => validateObject(object),
        `${name}: ${object.kind}/${object.metadata.name}`,
      )
  }
  // The validator is not a rubber stamp.
  const broken = structuredClone(find(example, 'Service', 'api-gateway') as K8sObject)
  ;(broken.spec as { ports: { port: unknown }[] }).ports[0]!.port = 'eight thousand'
  t.throws(() => validateObject(broken))
  const badId = structuredClone(
    find(example, 'ClusterSPIFFEID', 'zt-services-api-gateway') as K8sObject,
  )
  ;(badId.spec as Record<string, unknown>).spiffeIdTemplate = 'typo'
  t.throws(() => validateObject(badId), /unknown spec field spiffeIdTemplate/)
})

t.test('every pod and container is hardened (Pod Security restricted and more)', async (t) => {
  for (const [name, objects] of rendered) {
    const pods = objects.filter((object) => podSpecOf(object) !== undefined)
    t.equal(pods.length, 5, `${name}: 4 Deployments and the test Job`)
    for (const object of pods) {
      t.same(
        podSecurityViolations(podSpecOf(object) as PodSpec),
        [],
        `${name}: ${object.kind}/${object.metadata.name}`,
      )
    }
  }
})

t.test('namespaces are labelled Pod Security restricted, and optional', async (t) => {
  for (const name of ['public', 'services']) {
    const labels = find(example, 'Namespace', name)?.metadata.labels ?? {}
    for (const mode of ['enforce', 'audit', 'warn'])
      t.equal(labels[`pod-security.kubernetes.io/${mode}`], 'restricted')
  }
  t.notOk(
    renderChart([], ['namespaces.create=false']).some((object) => object.kind === 'Namespace'),
  )
})

t.test('workloads: namespaces, app labels, ports, probes, Services that target PORT', async (t) => {
  const expected = [
    ['frontend', 'public', 8080, 9080],
    ['api-gateway', 'services', 8000, 9000],
    ['url-service', 'services', 8443, 9443],
    ['worker', 'services', 0, 9444],
  ] as const
  for (const [name, namespace, port, opsPort] of expected) {
    const deployment = find(example, 'Deployment', name) as K8sObject
    t.equal(deployment.metadata.namespace, namespace, `${name} namespace`)
    const template = (
      deployment.spec as { template: { metadata: { labels: Record<string, string> } } }
    ).template
    t.equal(template.metadata.labels.app, name)
    const { spec, container, env } = app(example, name)
    t.equal(spec.serviceAccountName, name)
    t.equal(env.OPS_PORT, String(opsPort))
    t.same(container.readinessProbe?.httpGet, { path: '/readyz', port: 'ops' })
    t.same(container.livenessProbe?.httpGet, { path: '/healthz', port: 'ops' })
    t.ok(container.startupProbe, `${name} startupProbe`)
    t.equal(container.ports?.find((p) => p.name === 'ops')?.containerPort, opsPort)
    t.equal(spec.topologySpreadConstraints?.length, 2)
    t.ok(find(example, 'PodDisruptionBudget', name), `${name} PDB`)
    const service = find(example, 'Service', name)
    if (port === 0) {
      t.notOk(service, 'the worker serves nothing')
      t.same(container.args, ['dist/worker.js'], 'the image runs the worker, not the server')
      continue
    }
    t.equal(env.PORT, String(port))
    // The Service sends where the app listens: its targetPort is the PORT
    // the container is given, and a declared containerPort.
    const listens = Number(env.PORT)
    t.same(
      ((service as K8sObject).spec as ServiceSpec).ports.map((p) => [p.port, p.targetPort]),
      [[port, listens]],
      `${name}: Service port, and targetPort == PORT`,
    )
    t.ok(
      container.ports?.some((p) => p.containerPort === listens),
      `${name}: containerPort ${listens}`,
    )
  }
})

t.test('the configuration contract (ports, env names, identities)', async (t) => {
  for (const name of ['frontend', 'api-gateway', 'url-service', 'worker']) {
    const { spec, env } = app(example, name)
    t.equal(env.DRAIN_DELAY_MS, '5000')
    t.equal(env.AWS_EC2_METADATA_DISABLED, 'true')
    t.equal(env.AWS_REGION, 'eu-west-1')
    t.ok(
      (spec.terminationGracePeriodSeconds ?? 0) > (5000 + Number(env.SHUTDOWN_TIMEOUT_MS)) / 1000,
      'grace period above drain + shutdown',
    )
  }
  t.equal(
    app(example, 'frontend').env.API_GATEWAY_URL,
    'http://api-gateway.services.svc.cluster.local:8000',
  )
  // Each hop trusts X-Forwarded-For only from the hop before it.
  t.equal(app(example, 'frontend').env.TRUSTED_PROXIES, '10.0.96.0/19')
  t.equal(app(example, 'api-gateway').env.TRUSTED_PROXIES, '10.0.64.0/19')
  const gateway = app(example, 'api-gateway').env
  t.equal(gateway.URL_SERVICE_URL, 'https://url-service.services.svc.cluster.local:8443')
  t.equal(gateway.URL_SERVICE_ID, 'spiffe://zt.example.com/ns/services/sa/url-service')
  t.equal(gateway.PUBLIC_BASE_URL, 'https://sho.rt.example.com')
  t.equal(gateway.TRUST_DOMAIN, 'zt.example.com')
  const urls = app(example, 'url-service').env
  t.equal(urls.AUTHORIZED_CALLERS, 'spiffe://zt.example.com/ns/services/sa/api-gateway')
  t.equal(urls.DB_SSL_MODE, 'verify-full')
  t.equal(urls.DB_SECRET_ARN, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:zt/db-AbCdEf')
  t.equal(urls.EVENTS_QUEUE_URL, 'https://sqs.eu-west-1.amazonaws.com/123456789012/zt-events')
  t.equal(urls.DB_SSL_CA_FILE, '/etc/zt/db-ca/ca.pem')
  t.notOk(urls.DATABASE_URL, 'DATABASE_URL is for local runs only')
  t.equal(
    app(example, 'worker').env.DB_HOST,
    'zt-db.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com',
  )
  t.equal(
    app(example, 'frontend').container.image?.split('@')[1],
    `sha256:${'1'.repeat(64)}`,
    'pinned by digest',
  )
  const tagged = renderChart([], ['images.frontend.digest=', 'images.frontend.tag=1.2.3'])
  t.match(app(tagged, 'frontend').container.image, /zt\/frontend:1\.2\.3$/)
})

t.test('SPIFFE: ClusterSPIFFEIDs and the Workload API socket through the CSI driver', async (t) => {
  const ids = example.filter((object) => object.kind === 'ClusterSPIFFEID')
  t.same(
    ids.map(
      (id) =>
        (id.spec as { podSelector: { matchLabels: { app: string } } }).podSelector.matchLabels.app,
    ),
    ['api-gateway', 'url-service'],
  )
  for (const id of ids) {
    const spec = id.spec as { spiffeIDTemplate: string; namespaceSelector: unknown }
    t.equal(
      spec.spiffeIDTemplate,
      'spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}',
    )
    t.same(spec.namespaceSelector, { matchLabels: { 'kubernetes.io/metadata.name': 'services' } })
  }
  for (const name of ['api-gateway', 'url-service']) {
    const { spec, container, env } = app(example, name)
    t.notOk(env.SPIFFE_SVID_DIR, 'exactly one SVID source')
    t.same(spec.volumes?.find((v) => v.name === 'spiffe-workload-api')?.csi, {
      driver: 'csi.spiffe.io',
      readOnly: true,
    })
    const mount = container.volumeMounts?.find((m) => m.name === 'spiffe-workload-api')
    t.equal(mount?.readOnly, true)
    // The CSI driver puts the agent's socket at the root of the volume.
    t.equal(env.SPIFFE_ENDPOINT_SOCKET, `unix://${mount?.mountPath}/spire-agent.sock`)
  }
  t.notOk(app(example, 'frontend').env.TRUST_DOMAIN, 'the frontend has no SVID')
})

/** spiffe-helper's config (HCL: one `key = value` a line, strings quoted) as an object. */
function helperConfig(text: string): Record<string, unknown> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => {
        const [key = '', value = ''] = line.split('=').map((part) => part.trim())
        return [key, JSON.parse(value) as unknown]
      }),
  )
}

t.test('SPIFFE files mode: spiffe-helper writes where the services read', async (t) => {
  const objects = rendered.get('file-based SVIDs') ?? []
  const configMap = find(objects, 'ConfigMap', 'spiffe-helper') as K8sObject
  const config = helperConfig((configMap.data as Record<string, string>)['helper.conf'] ?? '')
  t.equal(config.daemon_mode, true, 'keeps renewing, not one write and exit')
  t.same(
    {
      certificates: config.svid_file_name,
      privateKey: config.svid_key_file_name,
      bundle: config.svid_bundle_file_name,
    },
    svidFileNames,
    'the file names DirectorySource reads',
  )
  for (const name of ['api-gateway', 'url-service']) {
    const { spec, container, env } = app(objects, name)
    t.notOk(env.SPIFFE_ENDPOINT_SOCKET, 'exactly one SVID source')
    const helper = spec.initContainers?.find((c) => c.name === 'spiffe-helper') as Container
    t.equal(helper.restartPolicy, 'Always', 'native sidecar: starts first, outlives the app')
    const mount = (c: Container, volume: string) => c.volumeMounts?.find((m) => m.name === volume)
    t.equal(env.SPIFFE_SVID_DIR, config.cert_dir, `${name} reads where the helper writes`)
    t.same(mount(container, 'svid'), { name: 'svid', mountPath: config.cert_dir, readOnly: true })
    t.same(mount(helper, 'svid'), { name: 'svid', mountPath: config.cert_dir })
    t.equal(
      `${mount(helper, 'spiffe-workload-api')?.mountPath}/spire-agent.sock`,
      config.agent_address,
      'the helper reaches the agent socket through its CSI mount',
    )
    const configDir = mount(helper, 'spiffe-helper-config')?.mountPath
    t.same(helper.args, ['-config', `${configDir}/helper.conf`])
    const volume = (volumeName: string) => spec.volumes?.find((v) => v.name === volumeName)
    t.same(volume('spiffe-helper-config')?.configMap, { name: configMap.metadata.name })
    t.same(volume('svid')?.emptyDir, { medium: 'Memory', sizeLimit: '1Mi' }, 'keys stay off disk')
  }
})

t.test(
  'identities: one ServiceAccount per workload, no API token, IRSA or Pod Identity',
  async (t) => {
    const accounts = (objects: K8sObject[]) =>
      objects.filter((object) => object.kind === 'ServiceAccount')
    t.same(
      accounts(example).map((sa) => sa.metadata.name),
      ['frontend', 'api-gateway', 'url-service', 'worker'],
    )
    for (const sa of accounts(example)) t.equal(sa.automountServiceAccountToken, false)
    const roles = Object.fromEntries(
      accounts(example).map((sa) => [
        sa.metadata.name,
        sa.metadata.annotations?.['eks.amazonaws.com/role-arn'],
      ]),
    )
    t.same(roles, {
      frontend: undefined,
      'api-gateway': undefined,
      'url-service': 'arn:aws:iam::123456789012:role/zt-url-service',
      worker: 'arn:aws:iam::123456789012:role/zt-worker',
    })
    for (const sa of accounts(rendered.get('Pod Identity') ?? []))
      t.notOk(sa.metadata.annotations, `${sa.metadata.name}: no IRSA annotation`)
    const missing = helmTemplate(['aws.roleArns.worker='])
    t.equal(missing.status, 1)
    t.match(missing.stderr, /aws\.roleArns\.worker is required with aws\.identity=irsa/)
  },
)

/** The workloads that use the database, and so migrate it before they start. */
const migratingWorkloads = ['url-service', 'worker']

/**
 * Why a rendering does not migrate the schema the safe way: the first init
 * container of url-service and worker must be `migrate` (so neither starts,
 * nor passes /readyz, before the schema exists), and no Helm hook may run a
 * Job (a post-install hook runs after pods are ready; a pre-install one has
 * no namespace, ServiceAccount or NetworkPolicy yet).
 */
function migrationProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = []
  for (const name of migratingWorkloads) {
    const deployment = find([...objects], 'Deployment', name)
    const first = deployment && podSpecOf(deployment)?.initContainers?.[0]
    if (first?.name !== 'migrate') problems.push(`${name}: the first init container is not migrate`)
    else if (first.args?.join(' ') !== 'dist/migrate.js')
      problems.push(`${name}: migrate does not run dist/migrate.js`)
  }
  for (const object of objects) {
    const hook = object.metadata.annotations?.['helm.sh/hook']
    // The `helm test` Job runs only on `helm test` (test/helm-test.test.ts).
    if ((object.kind === 'Job' || object.kind === 'CronJob') && hook !== 'test')
      problems.push(`${object.kind}/${object.metadata.name} remains`)
    if (hook !== undefined && hook !== 'test')
      problems.push(`${object.kind}/${object.metadata.name} is a ${hook} hook`)
  }
  return problems
}

t.test('url-service and worker migrate the schema in an init container; no hook Job', async (t) => {
  for (const [name, objects] of rendered) t.same(migrationProblems(objects), [], name)
  // Negative controls: the check notices a missing init container and a hook Job.
  const withoutInit = structuredClone(example)
  const worker = podSpecOf(find(withoutInit, 'Deployment', 'worker') as K8sObject) as FullPodSpec
  delete worker.initContainers
  t.same(migrationProblems(withoutInit), ['worker: the first init container is not migrate'])
  const withJob = [
    ...example,
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'migrate',
        namespace: 'services',
        annotations: { 'helm.sh/hook': 'post-install,pre-upgrade' },
      },
    },
  ]
  t.same(migrationProblems(withJob), [
    'Job/migrate remains',
    'Job/migrate is a post-install,pre-upgrade hook',
  ])
  for (const name of ['frontend', 'api-gateway'])
    t.notOk(app(example, name).spec.initContainers, `${name} has no database, so no migration`)
})

t.test('the migrate init container: the pod’s own image, the app identity, no SVID', async (t) => {
  for (const [set, objects] of rendered) {
    for (const name of migratingWorkloads) {
      const { spec, env } = app(objects, name)
      const migrate = spec.initContainers?.find((c) => c.name === 'migrate')
      if (!migrate) {
        t.fail(`${set}: ${name} has no migrate init container`)
        continue
      }
      t.equal(migrate.image, app(objects, name).container.image, `${set}: ${name} image`)
      t.notOk(migrate.restartPolicy, 'a regular init container: it must exit 0 before the app')
      // Same pod, so same ServiceAccount (IRSA role or Pod Identity association) and NetworkPolicies.
      t.equal(spec.serviceAccountName, name)
      const migrateEnv = envOf(migrate)
      const dbEnv = (vars: Record<string, string | undefined>) =>
        Object.fromEntries(Object.entries(vars).filter(([key]) => key.startsWith('DB_')))
      t.same(dbEnv(migrateEnv), dbEnv(env), `${set}: ${name} migrates the database it serves`)
      t.equal(migrateEnv.DB_SSL_MODE, 'verify-full')
      t.equal(migrateEnv.AWS_REGION, env.AWS_REGION)
      t.equal(migrateEnv.AWS_EC2_METADATA_DISABLED, 'true')
      t.equal(migrateEnv.LOG_LEVEL, env.LOG_LEVEL)
      t.notOk(
        Object.keys(migrateEnv).some((key) => key.startsWith('SPIFFE_') || key === 'TRUST_DOMAIN'),
        'migrate reads no SVID',
      )
      t.same(
        migrate.volumeMounts?.map((m) => m.name),
        ['tmp', 'db-ca'],
        'neither the Workload API socket nor the SVID files',
      )
    }
  }
  // spiffe-helper (a native sidecar) starts after migrate has finished.
  const files = app(rendered.get('file-based SVIDs') ?? [], 'url-service').spec
  t.same(
    files.initContainers?.map((c) => c.name),
    ['migrate', 'spiffe-helper'],
  )
})

t.test('the migrate init container is hardened exactly like the app containers', async (t) => {
  for (const [set, objects] of rendered) {
    for (const name of migratingWorkloads) {
      const { spec, container } = app(objects, name)
      const migrate = spec.initContainers?.find((c) => c.name === 'migrate')
      if (!migrate) {
        t.fail(`${set}: ${name} has no migrate init container`)
        continue
      }
      t.same(migrate.securityContext, container.securityContext, `${set}: ${name} securityContext`)
      t.match(migrate.securityContext, {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      })
      // The app's own requests and limits: the pod's effective request does not grow.
      t.same(migrate.resources, container.resources, `${set}: ${name} resources`)
      t.match(migrate.resources, {
        requests: { cpu: /./, memory: /./ },
        limits: { cpu: /./, memory: /./ },
      })
    }
  }
  // The pod-wide check covers init containers: a weakened migrate is caught.
  const weakened = structuredClone(app(example, 'worker').spec)
  const migrate = weakened.initContainers?.[0] as Container
  migrate.securityContext = { ...migrate.securityContext, allowPrivilegeEscalation: true }
  delete migrate.resources
  t.same(podSecurityViolations(weakened), [
    'container migrate: allowPrivilegeEscalation must be false',
    'container migrate: requests need cpu and memory',
    'container migrate: limits need cpu and memory',
  ])
})

t.test('HPA replaces fixed replicas; Ingress is optional', async (t) => {
  const objects = rendered.get('HPA on') ?? []
  t.equal(objects.filter((object) => object.kind === 'HorizontalPodAutoscaler').length, 4)
  for (const object of objects.filter((o) => o.kind === 'Deployment'))
    t.notOk((object.spec as { replicas?: number }).replicas)
  t.notOk(
    example.some(
      (object) => object.kind === 'HorizontalPodAutoscaler' || object.kind === 'Ingress',
    ),
  )
  const withIngress = renderChart(
    [],
    [
      'ingress.enabled=true',
      'ingress.host=sho.rt.example.com',
      'ingress.alb.sourceCidrs[0]=10.0.96.0/19',
    ],
  )
  for (const object of withIngress) t.doesNotThrow(() => validateObject(object), object.kind)
  const ingress = find(withIngress, 'Ingress', 'frontend')?.spec as IngressSpec
  t.same(
    ingress.rules.flatMap((rule) => rule.http.paths.map((path) => path.backend.service)),
    [{ name: 'frontend', port: { number: servicePort(withIngress, 'frontend') } }],
    "the Ingress sends to the frontend Service's port",
  )
})

t.test('values reach every object that uses them, and the objects agree', async (t) => {
  // Values unlike the example's, so that a template that hard-codes one shows.
  const objects = renderChart(
    [],
    [
      'trustDomain=other.example',
      'db.port=6543',
      'network.databaseCidrs[0]=192.0.2.0/28',
      'network.awsEndpointCidrs[0]=198.51.100.0/28',
      'frontend.trustedProxies[0]=203.0.113.0/24',
      'apiGateway.trustedProxies[0]=203.0.113.128/25',
    ],
  )
  const egress = (name: string) =>
    ((find(objects, 'NetworkPolicy', name) as K8sObject).spec as { egress: unknown[] }).egress
  t.same(egress('allow-database-egress'), [
    { to: [{ ipBlock: { cidr: '192.0.2.0/28' } }], ports: [{ protocol: 'TCP', port: 6543 }] },
  ])
  for (const name of migratingWorkloads) t.equal(app(objects, name).env.DB_PORT, '6543', name)
  t.same(egress('allow-aws-endpoints-egress'), [
    { to: [{ ipBlock: { cidr: '198.51.100.0/28' } }], ports: [{ protocol: 'TCP', port: 443 }] },
  ])
  t.equal(app(objects, 'frontend').env.TRUSTED_PROXIES, '203.0.113.0/24')
  t.equal(app(objects, 'api-gateway').env.TRUSTED_PROXIES, '203.0.113.128/25')

  // Each caller names its upstream by the Service the chart renders for it...
  const frontend = app(objects, 'frontend').env
  t.equal(frontend.API_GATEWAY_URL, serviceUrl(objects, 'http', 'api-gateway'))
  const gateway = app(objects, 'api-gateway').env
  t.equal(gateway.URL_SERVICE_URL, serviceUrl(objects, 'https', 'url-service'))
  // ...and the peer's SPIFFE ID by what its ClusterSPIFFEID issues.
  t.equal(gateway.URL_SERVICE_ID, issuedId(objects, 'other.example', 'url-service'))
  t.equal(gateway.TRUST_DOMAIN, 'other.example')
  t.equal(
    app(objects, 'url-service').env.AUTHORIZED_CALLERS,
    issuedId(objects, 'other.example', 'api-gateway'),
  )
})
