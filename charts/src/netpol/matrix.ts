/**
 * The reachability matrix: which (source, destination, port) flows the
 * chart's rendered NetworkPolicies allow among the app's pods and what
 * surrounds them in an EKS cluster.
 */
import type { K8sObject } from '../helm.js'
import { connectionAllowed } from './evaluate.js'
import type {
  Cluster,
  Connection,
  ContainerPort,
  Endpoint,
  Namespace,
  NetworkPolicy,
  Pod,
} from './types.js'

/** What an EKS cluster has around the chart; addresses match charts/values/example.yaml. */
export const environment = {
  namespaces: [
    { name: 'kube-system' },
    { name: 'ingress-nginx' },
    { name: 'monitoring' },
    { name: 'observability' },
  ] as Namespace[],
  pods: [
    {
      name: 'kube-dns',
      namespace: 'kube-system',
      labels: { 'k8s-app': 'kube-dns' },
      ip: '10.0.128.2',
      ports: [
        { name: 'dns', containerPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
      ],
    },
    {
      name: 'ingress-nginx',
      namespace: 'ingress-nginx',
      labels: {
        'app.kubernetes.io/name': 'ingress-nginx',
        'app.kubernetes.io/component': 'controller',
      },
      ip: '10.0.128.3',
    },
    {
      name: 'prometheus',
      namespace: 'monitoring',
      labels: { 'app.kubernetes.io/name': 'prometheus' },
      ip: '10.0.128.4',
    },
    {
      name: 'otel-collector',
      namespace: 'observability',
      labels: { 'app.kubernetes.io/name': 'opentelemetry-collector' },
      ip: '10.0.128.5',
      ports: [{ name: 'otlp-http', containerPort: 4318, protocol: 'TCP' }],
    },
  ] as Pod[],
  externals: [
    { name: 'database', ip: '10.0.32.10' },
    { name: 'aws-endpoint', ip: '10.0.0.10' },
    { name: 'imds', ip: '169.254.169.254' },
    { name: 'pod-identity-agent', ip: '169.254.170.23' },
    { name: 'internet', ip: '1.1.1.1' },
  ],
}

/** Every port any flow of the system uses, probed towards every destination. */
export const probedConnections: Connection[] = [
  { protocol: 'UDP', port: 53 },
  ...[53, 80, 443, 4318, 5432, 8000, 8080, 8443, 9000, 9080, 9443, 9444].map(
    (port): Connection => ({ protocol: 'TCP', port }),
  ),
]

interface PodTemplate {
  metadata?: { labels?: Record<string, string> }
  spec?: PodSpec
}
interface PodSpec {
  containers?: { ports?: ContainerPort[] }[]
  initContainers?: { ports?: ContainerPort[] }[]
}

function podTemplateOf(object: K8sObject): PodTemplate | undefined {
  const spec = object.spec as { template?: PodTemplate } | undefined
  if (object.kind === 'Deployment' || object.kind === 'Job') return spec?.template
  if (object.kind === 'Pod') return { metadata: object.metadata, spec: object.spec as PodSpec }
  return undefined
}

/**
 * The cluster the rendered chart creates (one pod per workload, addresses in
 * a pod subnet outside the database and endpoint subnets) inside `environment`.
 */
export function clusterFromManifests(objects: readonly K8sObject[]): {
  cluster: Cluster
  appPods: Pod[]
} {
  const appPods: Pod[] = []
  for (const object of objects) {
    const template = podTemplateOf(object)
    if (template === undefined) continue
    const labels = template.metadata?.labels ?? {}
    const containers = [
      ...(template.spec?.containers ?? []),
      ...(template.spec?.initContainers ?? []),
    ]
    appPods.push({
      // app.kubernetes.io/name first: the helm test pod shares the frontend's `app` label.
      name: labels['app.kubernetes.io/name'] ?? labels.app ?? object.metadata.name,
      namespace: object.metadata.namespace ?? 'default',
      labels,
      ip: `10.0.129.${appPods.length + 10}`,
      ports: containers.flatMap((container) => container.ports ?? []),
    })
  }
  const namespaces: Namespace[] = [
    ...environment.namespaces,
    ...objects
      .filter((object) => object.kind === 'Namespace')
      .map((object) => ({ name: object.metadata.name, labels: object.metadata.labels })),
  ]
  for (const pod of appPods) {
    if (!namespaces.some((namespace) => namespace.name === pod.namespace))
      namespaces.push({ name: pod.namespace })
  }
  const policies = objects.filter(
    (object) => object.kind === 'NetworkPolicy',
  ) as unknown as NetworkPolicy[]
  return { cluster: { namespaces, pods: [...environment.pods, ...appPods], policies }, appPods }
}

export interface Flow {
  source: string
  destination: string
  ports: string[]
}

function nameOf(endpoint: Endpoint): string {
  return endpoint.kind === 'pod'
    ? `${endpoint.pod.namespace}/${endpoint.pod.name}`
    : `${endpoint.external.name} ${endpoint.external.ip}`
}

/**
 * Every allowed flow that starts or ends at an app pod, one entry per
 * (source, destination) with its ports, sorted for stable output.
 */
export function reachabilityMatrix(objects: readonly K8sObject[]): Flow[] {
  const { cluster, appPods } = clusterFromManifests(objects)
  const endpoints: Endpoint[] = [
    ...cluster.pods.map((pod): Endpoint => ({ kind: 'pod', pod })),
    ...environment.externals.map((external): Endpoint => ({ kind: 'external', external })),
  ]
  const isApp = (endpoint: Endpoint) => endpoint.kind === 'pod' && appPods.includes(endpoint.pod)
  const flows: Flow[] = []
  for (const source of endpoints) {
    for (const destination of endpoints) {
      if (source === destination || !(isApp(source) || isApp(destination))) continue
      const ports = probedConnections
        .filter((connection) => connectionAllowed(cluster, source, destination, connection))
        .map((connection) => `${connection.port}/${connection.protocol}`)
      if (ports.length === 0) continue
      // Open on every probed port means an unisolated pod: say so instead of listing them.
      const shown = ports.length === probedConnections.length ? ['any'] : ports
      flows.push({ source: nameOf(source), destination: nameOf(destination), ports: shown })
    }
  }
  return flows.sort(
    (a, b) => a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination),
  )
}

export function formatMatrix(flows: readonly Flow[]): string {
  const rows = [
    ['SOURCE', 'DESTINATION', 'PORTS'],
    ...flows.map((flow) => [flow.source, flow.destination, flow.ports.join(' ')]),
  ]
  const width = (column: number) => Math.max(...rows.map((row) => row[column]?.length ?? 0))
  return rows
    .map((row) => `${row[0]?.padEnd(width(0))}  ${row[1]?.padEnd(width(1))}  ${row[2]}`.trimEnd())
    .join('\n')
}
