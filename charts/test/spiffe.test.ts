/**
 * SPIFFE registration as spire-controller-manager would act on it: which
 * pods each rendered ClusterSPIFFEID selects, and which pods carry SVID
 * material at all.
 */
import t from 'tap'
import { helmTemplate, type K8sObject, renderChart } from '../src/helm.js'
import { matchesSelector } from '../src/netpol/selector.js'
import type { LabelSelector } from '../src/netpol/types.js'

interface ClusterSpiffeIdSpec {
  className?: string
  podSelector?: LabelSelector
  namespaceSelector?: LabelSelector
}
interface PodTemplate {
  metadata: { labels: Record<string, string> }
  spec: {
    containers: { name: string; env?: { name: string }[]; volumeMounts?: { name: string }[] }[]
    initContainers?: { name: string; env?: { name: string }[]; volumeMounts?: { name: string }[] }[]
    volumes?: ({ name: string } & Record<string, unknown>)[]
  }
}

const templateOf = (objects: readonly K8sObject[], name: string) => {
  const deployment = objects.find(
    (object) => object.kind === 'Deployment' && object.metadata.name === name,
  )
  if (!deployment) throw new Error(`no ${name} Deployment`)
  return {
    namespace: deployment.metadata.namespace ?? 'default',
    template: (deployment.spec as { template: PodTemplate }).template,
  }
}

/** The ClusterSPIFFEIDs whose selectors match a pod of `workload` (a namespace's labels are its name label). */
function idsSelecting(objects: readonly K8sObject[], workload: string): string[] {
  const { namespace, template } = templateOf(objects, workload)
  const namespaceLabels = { 'kubernetes.io/metadata.name': namespace }
  return objects
    .filter((object) => object.kind === 'ClusterSPIFFEID')
    .filter((object) => {
      const spec = object.spec as ClusterSpiffeIdSpec
      return (
        matchesSelector(spec.namespaceSelector ?? {}, namespaceLabels) &&
        matchesSelector(spec.podSelector ?? {}, template.metadata.labels)
      )
    })
    .map((object) => object.metadata.name)
}

/** What in a pod would hand it an SVID: the Workload API socket, SVID files, SPIFFE settings. */
function spiffeMaterial(template: PodTemplate): string[] {
  const found: string[] = []
  for (const volume of template.spec.volumes ?? []) {
    const csi = volume.csi as { driver?: string } | undefined
    if (csi?.driver === 'csi.spiffe.io') found.push(`volume ${volume.name}: csi.spiffe.io`)
    if (volume.name === 'svid') found.push('volume svid')
  }
  for (const container of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
    for (const mount of container.volumeMounts ?? []) {
      if (/spiffe|svid/.test(mount.name)) found.push(`${container.name}: mounts ${mount.name}`)
    }
    for (const variable of container.env ?? []) {
      if (variable.name.startsWith('SPIFFE_') || variable.name === 'TRUST_DOMAIN')
        found.push(`${container.name}: env ${variable.name}`)
    }
    if (container.name === 'spiffe-helper') found.push('spiffe-helper sidecar')
  }
  return found
}

const valueSets: Record<string, string[]> = {
  'Workload API': [],
  'file-based SVIDs': ['spiffe-files.yaml'],
}

t.test('the worker gets no SPIFFE registration and no SVID material', async (t) => {
  for (const [name, files] of Object.entries(valueSets)) {
    const objects = renderChart(files)
    t.same(idsSelecting(objects, 'worker'), [], `${name}: no ClusterSPIFFEID selects worker pods`)
    t.same(spiffeMaterial(templateOf(objects, 'worker').template), [], `${name}: worker`)
  }
})

t.test('the two mTLS workloads are each registered exactly once', async (t) => {
  for (const [name, files] of Object.entries(valueSets)) {
    const objects = renderChart(files)
    t.same(idsSelecting(objects, 'api-gateway'), ['zt-services-api-gateway'], name)
    t.same(idsSelecting(objects, 'url-service'), ['zt-services-url-service'], name)
    for (const workload of ['api-gateway', 'url-service'])
      t.not(spiffeMaterial(templateOf(objects, workload).template), [], `${name}: ${workload}`)
    t.same(idsSelecting(objects, 'frontend'), [], `${name}: the frontend has no SVID`)
  }
})

t.test('the checks notice a registration and a mount (negative controls)', async (t) => {
  const objects = renderChart()
  const urlServiceId = objects.find(
    (object) => object.metadata.name === 'zt-services-url-service',
  ) as K8sObject
  const workerId = structuredClone(urlServiceId)
  workerId.metadata.name = 'zt-services-worker'
  ;(workerId.spec as ClusterSpiffeIdSpec).podSelector = {
    matchLabels: { app: 'worker', 'app.kubernetes.io/instance': 'zt' },
  }
  t.same(idsSelecting([...objects, workerId], 'worker'), ['zt-services-worker'])
  const worker = structuredClone(templateOf(objects, 'worker').template)
  worker.spec.volumes?.push({ name: 'spiffe-workload-api', csi: { driver: 'csi.spiffe.io' } })
  t.same(spiffeMaterial(worker), ['volume spiffe-workload-api: csi.spiffe.io'])
})

/**
 * Whether a spire-controller-manager configured with `className` (and
 * `watchClassless`) reconciles a ClusterSPIFFEID: it syncs only objects
 * whose spec.className equals its own, plus classless ones when
 * watchClassless is on (spire-controller-manager docs/spire-controller-manager-config.md).
 */
function reconciledBy(
  id: K8sObject,
  controller: { className: string; watchClassless: boolean },
): boolean {
  const className = (id.spec as ClusterSpiffeIdSpec).className ?? ''
  return className === '' ? controller.watchClassless : className === controller.className
}

/**
 * The hardened SPIRE chart (spiffe/helm-charts-hardened) runs the controller
 * manager with className "<its namespace>-<its release>" and watchClassless
 * false; the CDK app installs release "spire" in namespace "spire-mgmt".
 */
const cdkSpire = { className: 'spire-mgmt-spire', watchClassless: false }

t.test('the ClusterSPIFFEIDs are reconciled by the SPIRE the CDK app installs', async (t) => {
  const ids = renderChart().filter((object) => object.kind === 'ClusterSPIFFEID')
  t.equal(ids.length, 2)
  for (const id of ids) t.ok(reconciledBy(id, cdkSpire), id.metadata.name)
  // Another SPIRE install: the class follows the value.
  const other = { className: 'spire-server-spire', watchClassless: false }
  for (const id of renderChart([], [`spiffe.className=${other.className}`]).filter(
    (object) => object.kind === 'ClusterSPIFFEID',
  )) {
    t.ok(reconciledBy(id, other), `${id.metadata.name} with spiffe.className set`)
    t.notOk(reconciledBy(id, cdkSpire), 'and only by that controller manager')
  }
})

t.test('an empty className is refused: it would mean "no controller", not "any"', async (t) => {
  const result = helmTemplate(['spiffe.className='])
  t.equal(result.status, 1)
  t.match(result.stderr, /className/)
  t.equal(result.stdout, '', 'nothing rendered')
  // What the chart used to render for "": classless objects, which the hardened controller skips.
  const classless = structuredClone(
    renderChart().find((object) => object.kind === 'ClusterSPIFFEID') as K8sObject,
  )
  delete (classless.spec as ClusterSpiffeIdSpec).className
  t.notOk(reconciledBy(classless, cdkSpire))
})
