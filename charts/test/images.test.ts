/**
 * Which image each pod runs. The worker has its own `images.worker` so it
 * can roll before url-service (docs/events.md: a consumer that accepts a new
 * event version ships before the producer), and defaults to url-service's.
 */
import t from 'tap'
import { type K8sObject, renderChart } from '../src/helm.js'

interface Container {
  name: string
  image: string
}
function imagesOf(objects: readonly K8sObject[], name: string) {
  const deployment = objects.find(
    (object) => object.kind === 'Deployment' && object.metadata.name === name,
  )
  if (!deployment) throw new Error(`no ${name} Deployment`)
  const spec = (
    deployment.spec as {
      template: { spec: { containers: Container[]; initContainers?: Container[] } }
    }
  ).template.spec
  const app = spec.containers.find((container) => container.name === name)
  const migrate = spec.initContainers?.find((container) => container.name === 'migrate')
  return { app: app?.image, migrate: migrate?.image }
}

const urlServiceRepository = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/zt/url-service'
const urlServiceImage = `${urlServiceRepository}@sha256:${'3'.repeat(64)}`
const workerDigest = `sha256:${'4'.repeat(64)}`

t.test('by default the worker runs the url-service image', async (t) => {
  const objects = renderChart()
  t.same(imagesOf(objects, 'url-service'), { app: urlServiceImage, migrate: urlServiceImage })
  t.same(imagesOf(objects, 'worker'), { app: urlServiceImage, migrate: urlServiceImage })
})

t.test('images.worker rolls the worker (and its migration) alone', async (t) => {
  // Same repository, a newer build: only the digest is set.
  const newer = renderChart([], [`images.worker.digest=${workerDigest}`])
  const newerImage = `${urlServiceRepository}@${workerDigest}`
  t.same(imagesOf(newer, 'worker'), { app: newerImage, migrate: newerImage })
  t.same(
    imagesOf(newer, 'url-service'),
    { app: urlServiceImage, migrate: urlServiceImage },
    'url-service keeps its image',
  )
  // Its own repository.
  const own = renderChart(
    [],
    [
      'images.worker.repository=123456789012.dkr.ecr.eu-west-1.amazonaws.com/zt/worker',
      'images.worker.tag=1.2.3',
    ],
  )
  const ownImage = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/zt/worker:1.2.3'
  t.same(imagesOf(own, 'worker'), { app: ownImage, migrate: ownImage })
  t.same(imagesOf(own, 'url-service').app, urlServiceImage)
})
