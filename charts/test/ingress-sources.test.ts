/**
 * Who may reach the frontend (and the ops ports), asked of the NetworkPolicy
 * evaluator with the chart's rendered policies: the sources a user
 * configures are the ones admitted, and nothing else.
 */
import t from 'tap'
import { type K8sObject, renderChart } from '../src/helm.js'
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
