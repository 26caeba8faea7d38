/**
 * Who may reach the frontend (and the ops ports), asked of the NetworkPolicy
 * evaluator with the chart's rendered policies: the sources a user
 * configures are the ones admitted, and nothing else.
 */
import t from 'tap'
import { helmTemplate, type K8sObject, renderChart } from '../src/helm.js'
import { connectionAllowed } from '../src/netpol/evaluate.js'
import { clusterFromManifests } from '../src/netpol/matrix.js'
import type { Endpoint, Pod } from '../src/netpol/types.js'

/** A pod of `labels` in `namespace` (created if the model lacks it) with an address outside every app CIDR. */
function withPod(objects: readonly K8sObject[], namespace: string, labels: Record<string, string>) {
  const { cluster, appPods } = clusterFromManifests(objects)
  const pod: Pod = { name: 'probe', namespace, labels, ip: '10.0.130.7' }
  if (!cluster.namespaces.some((candidate) => candidate.name === namespace))
    cluster.namespaces.push({ name: namespace })
  cluster.pods.push(pod)
  const target = (name: string) => {
    const found = appPods.find((candidate) => candidate.labels.app === name)
    if (!found) throw new Error(`no ${name} pod`)
    return { kind: 'pod', pod: found } satisfies Endpoint
  }
  return { cluster, source: { kind: 'pod', pod } satisfies Endpoint, target }
}

const reaches = (
  objects: readonly K8sObject[],
  namespace: string,
  labels: Record<string, string>,
  app: string,
  port: number,
) => {
  const { cluster, source, target } = withPod(objects, namespace, labels)
  return connectionAllowed(cluster, source, target(app), { protocol: 'TCP', port })
}

/** `--set` for a map key that contains dots (label names). */
const label = (path: string, key: string, value: string) =>
  `${path}.${key.replaceAll('.', '\\.')}=${value}`

const nginxDefaults = {
  'app.kubernetes.io/name': 'ingress-nginx',
  'app.kubernetes.io/component': 'controller',
}

t.test('the default ingress source: ingress-nginx controller pods', async (t) => {
  const objects = renderChart()
  t.ok(reaches(objects, 'ingress-nginx', nginxDefaults, 'frontend', 8080))
  t.notOk(reaches(objects, 'ingress-nginx', { app: 'something-else' }, 'frontend', 8080))
})

t.test(
  "a user's controller podLabels replace the defaults instead of adding to them",
  async (t) => {
    const traefik = { 'app.kubernetes.io/name': 'traefik' }
    const objects = renderChart(
      [],
      [
        'network.public.ingressFrom.controller.namespace=traefik',
        label(
          'network.public.ingressFrom.controller.podLabels',
          'app.kubernetes.io/name',
          'traefik',
        ),
      ],
    )
    t.ok(
      reaches(objects, 'traefik', traefik, 'frontend', 8080),
      'a pod carrying only the labels the user gave reaches the frontend',
    )
    t.notOk(
      reaches(objects, 'traefik', nginxDefaults, 'frontend', 8080),
      'a pod carrying only the old default labels does not',
    )
  },
)

t.test("a user's Prometheus podLabels replace the defaults too", async (t) => {
  const server = { app: 'prometheus', component: 'server' }
  const objects = renderChart(
    [],
    [
      'network.prometheus.enabled=true',
      label('network.prometheus.podLabels', 'app', 'prometheus'),
      label('network.prometheus.podLabels', 'component', 'server'),
    ],
  )
  for (const [app, port] of [
    ['frontend', 9080],
    ['api-gateway', 9000],
    ['url-service', 9443],
    ['worker', 9444],
  ] as const) {
    t.ok(reaches(objects, 'monitoring', server, app, port), `scrapes ${app}:${port}`)
    t.notOk(
      reaches(objects, 'monitoring', { 'app.kubernetes.io/name': 'prometheus' }, app, port),
      `the default label alone does not scrape ${app}`,
    )
  }
  const defaults = renderChart([], ['network.prometheus.enabled=true'])
  t.ok(
    reaches(defaults, 'monitoring', { 'app.kubernetes.io/name': 'prometheus' }, 'worker', 9444),
    'without podLabels the default selector applies',
  )
})

/**
 * Whether the AWS Load Balancer Controller can route an Ingress to its
 * Service: `target-type` instance (its default) registers node ports, so the
 * Service must be NodePort or LoadBalancer; ip registers the pod addresses
 * and works with a ClusterIP Service.
 */
function albCanRoute(objects: readonly K8sObject[]): boolean {
  const ingress = objects.find((object) => object.kind === 'Ingress')
  if (!ingress) throw new Error('no Ingress')
  const backend = (
    ingress.spec as {
      rules: { http: { paths: { backend: { service: { name: string } } }[] } }[]
    }
  ).rules[0]?.http.paths[0]?.backend.service.name
  const service = objects.find(
    (object) =>
      object.kind === 'Service' &&
      object.metadata.name === backend &&
      object.metadata.namespace === ingress.metadata.namespace,
  )
  const type = (service?.spec as { type?: string } | undefined)?.type ?? 'ClusterIP'
  const targetType =
    ingress.metadata.annotations?.['alb.ingress.kubernetes.io/target-type'] ?? 'instance'
  return targetType === 'ip' || type === 'NodePort' || type === 'LoadBalancer'
}

const albSubnet = '10.0.96.0/19'
const alb = [
  'ingress.enabled=true',
  'ingress.className=alb',
  `ingress.alb.sourceCidrs[0]=${albSubnet}`,
]
const albAddress: Endpoint = { kind: 'external', external: { name: 'alb-eni', ip: '10.0.100.10' } }

t.test('ingress class alb: the ALB reaches the frontend, pods do not', async (t) => {
  const objects = renderChart([], alb)
  t.ok(albCanRoute(objects), 'the ALB can register the frontend Service as a target')
  const { cluster, source, target } = withPod(objects, 'default', { app: 'anything' })
  const http = { protocol: 'TCP', port: 8080 } as const
  t.ok(
    connectionAllowed(cluster, albAddress, target('frontend'), http),
    'an address of the ALB subnets reaches the frontend port',
  )
  t.notOk(
    connectionAllowed(cluster, albAddress, target('frontend'), { protocol: 'TCP', port: 9080 }),
    'and only that port',
  )
  t.notOk(connectionAllowed(cluster, source, target('frontend'), http), 'an arbitrary pod does not')
  t.notOk(
    reaches(objects, 'ingress-nginx', nginxDefaults, 'frontend', 8080),
    'nor an ingress-nginx pod: no in-cluster controller serves this class',
  )
})

t.test('ingress class nginx: the controller pods, not the ALB subnets', async (t) => {
  const objects = renderChart([], ['ingress.enabled=true', 'ingress.className=nginx'])
  t.ok(reaches(objects, 'ingress-nginx', nginxDefaults, 'frontend', 8080))
  const { cluster, target } = withPod(objects, 'default', { app: 'anything' })
  t.notOk(
    connectionAllowed(cluster, albAddress, target('frontend'), { protocol: 'TCP', port: 8080 }),
  )
})

t.test('an ALB Ingress that could not work is refused', async (t) => {
  const noSource = helmTemplate(alb.slice(0, 2))
  t.equal(noSource.status, 1, 'no ALB source CIDRs: every ALB packet would be dropped')
  t.match(noSource.stderr, /ingress\.alb\.sourceCidrs/)
  const instanceMode = helmTemplate([
    ...alb,
    'ingress.annotations.alb\\.ingress\\.kubernetes\\.io/target-type=instance',
  ])
  t.equal(instanceMode.status, 1, 'instance targets need a NodePort Service')
  t.match(instanceMode.stderr, /target-type/)
  // The routing model notices instance mode on a ClusterIP Service.
  const objects = renderChart([], alb)
  const ingress = objects.find((object) => object.kind === 'Ingress') as K8sObject
  delete ingress.metadata.annotations?.['alb.ingress.kubernetes.io/target-type']
  t.notOk(albCanRoute(objects))
})
