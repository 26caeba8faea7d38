/**
 * Every container the chart renders would start: what the runtime execs,
 * from the container's command/args over the image's ENTRYPOINT/CMD read
 * from the repository's Dockerfile, is a program the image has, and Node gets a
 * script the image contains.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import {
  type ContainerExec,
  execProblems,
  foreignImageProblems,
  type ImageModel,
  resolveArgv,
  serviceImage,
} from '../src/exec.js'
import { exampleValues, type K8sObject, packageDir, renderChart } from '../src/helm.js'

const servicesDir = join(packageDir, '..', 'services')
/** Values key of each image -> the service the Dockerfile builds it for (SERVICE). */
const serviceOfImage = {
  frontend: 'frontend',
  apiGateway: 'api-gateway',
  urlService: 'url-service',
}
const example = parse(readFileSync(exampleValues, 'utf8')) as {
  images: Record<string, { repository: string }>
}
const imagesByRepository = new Map<string, ImageModel>(
  Object.entries(serviceOfImage).map(([key, service]) => [
    example.images[key]?.repository ?? '',
    serviceImage(join(servicesDir, service)),
  ]),
)

/** repository@digest or repository:tag -> repository */
const repositoryOf = (image: string) =>
  image.includes('@') ? (image.split('@')[0] ?? '') : image.replace(/:[^:/]+$/, '')

interface Container extends ContainerExec {
  image: string
}
interface PodSpec {
  containers: Container[]
  initContainers?: Container[]
}
function podSpecOf(object: K8sObject): PodSpec | undefined {
  if (object.kind === 'Pod') return object.spec as PodSpec
  if (object.kind === 'Deployment' || object.kind === 'Job')
    return (object.spec as { template: { spec: PodSpec } }).template.spec
  return undefined
}

function startProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = []
  for (const object of objects) {
    const spec = podSpecOf(object)
    if (spec === undefined) continue
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      const image = imagesByRepository.get(repositoryOf(container.image))
      const found = image ? execProblems(container, image) : foreignImageProblems(container)
      problems.push(...found.map((problem) => `${object.kind}/${object.metadata.name}: ${problem}`))
    }
  }
  return problems
}

const valueSets: Record<string, [files: string[], set: string[]]> = {
  'IRSA (example values)': [[], []],
  'Pod Identity': [['pod-identity.yaml'], []],
  'HPA on': [['hpa.yaml'], []],
  'file-based SVIDs': [['spiffe-files.yaml'], []],
  'worker rolled apart': [[], [`images.worker.digest=sha256:${'4'.repeat(64)}`]],
}

t.test('the model reads ENTRYPOINT and CMD from the Dockerfile', async (t) => {
  const urlService = serviceImage(join(servicesDir, 'url-service'))
  t.same(urlService.entrypoint, ['/nodejs/bin/node'], 'distroless: node is the ENTRYPOINT')
  t.same(urlService.cmd, ['dist/server.js'])
  t.equal(urlService.workdir, '/app')
  t.ok(urlService.hasFile('/app/dist/migrate.js'), 'src/migrate.ts is built to dist/migrate.js')
  t.ok(urlService.hasFile('/app/dist/worker.js'))
  t.notOk(urlService.hasFile('/app/dist/nope.js'))
  t.same(resolveArgv({ name: 'default' }, urlService), ['/nodejs/bin/node', 'dist/server.js'])
})

t.test('every container of every rendered workload would start', async (t) => {
  for (const [name, [files, set]] of Object.entries(valueSets)) {
    const objects = renderChart(files, set)
    t.ok(
      objects.some((object) => podSpecOf(object) !== undefined),
      `${name}: there are workloads to check`,
    )
    t.same(startProblems(objects), [], name)
  }
})

t.test('what the runtime would refuse (negative controls)', async (t) => {
  const urlService = serviceImage(join(servicesDir, 'url-service'))
  t.same(execProblems({ name: 'migrate', command: ['node', 'dist/migrate.js'] }, urlService), [
    'container migrate: exec "node": executable file not found in $PATH',
  ])
  t.same(
    execProblems({ name: 'sh', command: ['/bin/sh', '-c', 'node dist/worker.js'] }, urlService),
    ['container sh: exec "/bin/sh": no such file in the image'],
  )
  t.same(
    execProblems({ name: 'worker', command: ['/nodejs/bin/node', 'dist/worker.js'] }, urlService),
    [],
    'an absolute path to the image’s node works',
  )
  t.same(execProblems({ name: 'typo', args: ['dist/wroker.js'] }, urlService), [
    'container typo: node dist/wroker.js: /app/dist/wroker.js is not in the image',
  ])
  t.same(execProblems({ name: 'inline', args: ['--input-type=module', '-e', '1'] }, urlService), [])
  t.same(foreignImageProblems({ name: 'helper', command: ['spiffe-helper'] }), [
    'container helper: command overrides the ENTRYPOINT of an image not modelled here',
  ])
})
