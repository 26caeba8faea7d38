/**
 * The pod settings a Helm user expects (nodeSelector, tolerations, affinity,
 * podAnnotations, imagePullSecrets), global and per workload, land in the
 * pod specs they are meant for, and what the chart itself needs wins.
 */
import t from 'tap'
import { type K8sObject, renderChart } from '../src/helm.js'
import { validateObject } from '../src/validate.js'

interface PodTemplate {
  metadata: { annotations?: Record<string, string> }
  spec: {
    nodeSelector?: Record<string, string>
    tolerations?: unknown[]
    affinity?: unknown
    imagePullSecrets?: { name: string }[]
  }
}

/** The pod template of each workload, by the name its pods answer to (the test Job's is frontend-test). */
function templates(objects: readonly K8sObject[]): Record<string, PodTemplate> {
  const found: Record<string, PodTemplate> = {}
  for (const object of objects) {
    if (object.kind !== 'Deployment' && object.kind !== 'Job') continue
    const name = object.kind === 'Job' ? 'frontend-test' : object.metadata.name
    found[name] = (object.spec as { template: PodTemplate }).template
  }
  return found
}

const toleration = { key: 'dedicated', operator: 'Equal', value: 'apps', effect: 'NoSchedule' }
const workerAffinity = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] },
          ],
        },
      ],
    },
  },
}

const objects = renderChart(
  [],
  [
    'nodeSelector.pool=apps',
    'frontend.nodeSelector.pool=edge',
    `tolerations[0].key=${toleration.key}`,
    `tolerations[0].operator=${toleration.operator}`,
    `tolerations[0].value=${toleration.value}`,
    `tolerations[0].effect=${toleration.effect}`,
    'worker.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=karpenter\\.sh/capacity-type',
    'worker.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=In',
    'worker.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]=spot',
    'podAnnotations.team=links',
    'podAnnotations.tier=global',
    'apiGateway.podAnnotations.tier=edge',
    'urlService.podAnnotations.checksum/db-ca=forged',
    'imagePullSecrets[0].name=regcred',
    'urlService.imagePullSecrets[0].name=urls-only',
  ],
)
const pods = templates(objects)
const names = ['frontend', 'api-gateway', 'url-service', 'worker', 'frontend-test']

t.test('every workload and the test Job are covered', async (t) => {
  t.same(Object.keys(pods).sort(), [...names].sort())
  for (const object of objects) t.doesNotThrow(() => validateObject(object), object.metadata.name)
})

t.test('nodeSelector: the workload’s replaces the global one', async (t) => {
  const selectors = Object.fromEntries(names.map((name) => [name, pods[name]?.spec.nodeSelector]))
  t.same(selectors, {
    frontend: { pool: 'edge' },
    'api-gateway': { pool: 'apps' },
    'url-service': { pool: 'apps' },
    worker: { pool: 'apps' },
    'frontend-test': { pool: 'edge' },
  })
})

t.test('tolerations and imagePullSecrets: global unless the workload sets its own', async (t) => {
  for (const name of names) t.same(pods[name]?.spec.tolerations, [toleration], name)
  const secrets = Object.fromEntries(names.map((name) => [name, pods[name]?.spec.imagePullSecrets]))
  t.same(secrets, {
    frontend: [{ name: 'regcred' }],
    'api-gateway': [{ name: 'regcred' }],
    'url-service': [{ name: 'urls-only' }],
    worker: [{ name: 'regcred' }],
    'frontend-test': [{ name: 'regcred' }],
  })
})

t.test('affinity: only where it was set', async (t) => {
  t.same(pods.worker?.spec.affinity, workerAffinity)
  for (const name of names.filter((name) => name !== 'worker'))
    t.notOk(pods[name]?.spec.affinity, name)
})

t.test(
  'podAnnotations merge, the workload’s key wins, the chart’s own wins over both',
  async (t) => {
    t.same(pods.frontend?.metadata.annotations, { team: 'links', tier: 'global' })
    t.same(pods['api-gateway']?.metadata.annotations, { team: 'links', tier: 'edge' })
    const urlService = pods['url-service']?.metadata.annotations ?? {}
    t.equal(urlService.team, 'links')
    t.match(urlService['checksum/db-ca'], /^[0-9a-f]{64}$/, 'the CA checksum still rolls the pods')
    t.same(pods['frontend-test']?.metadata.annotations, { team: 'links', tier: 'global' })
  },
)

t.test('without these values no pod gets empty fields', async (t) => {
  for (const [name, pod] of Object.entries(templates(renderChart()))) {
    for (const field of ['nodeSelector', 'tolerations', 'affinity', 'imagePullSecrets'] as const)
      t.notOk(field in pod.spec, `${name}: ${field}`)
  }
})

t.test('app.kubernetes.io/component on every workload and its pods', async (t) => {
  const components: Record<string, string | undefined> = {}
  for (const object of renderChart()) {
    if (object.kind !== 'Deployment' && object.kind !== 'Job') continue
    const spec = object.spec as {
      selector?: { matchLabels: Record<string, string> }
      template: { metadata: { labels: Record<string, string> } }
    }
    const own = object.metadata.labels?.['app.kubernetes.io/component']
    const pod = spec.template.metadata.labels['app.kubernetes.io/component']
    t.ok(own, `${object.kind}/${object.metadata.name}`)
    t.equal(pod, own, `${object.metadata.name}: its pods carry the same`)
    components[object.metadata.name] = pod
    // An upgrade must not touch a Deployment's selector: it is immutable.
    if (object.kind === 'Deployment')
      t.same(Object.keys(spec.selector?.matchLabels ?? {}), ['app', 'app.kubernetes.io/instance'])
  }
  t.same(components, {
    frontend: 'frontend',
    'api-gateway': 'gateway',
    'url-service': 'backend',
    worker: 'worker',
    'zt-public-path': 'test',
  })
})
