/**
 * The `helm test` Job: what its pod is to the NetworkPolicies (the
 * frontend), that every probe it runs expects what the rendered policies
 * produce (so it passes on a correct install and fails on a policy hole),
 * and that the script it names in the frontend image does that.
 */
import { createServer as createHttpServer } from 'node:http'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { runScript } from '@zt/devkit'
import t, { type Test } from 'tap'
import { scriptSource } from '../src/exec.js'
import { type K8sObject, packageDir, renderChart } from '../src/helm.js'
import { connectionAllowed } from '../src/netpol/evaluate.js'
import { clusterFromManifests, environment, probedConnections } from '../src/netpol/matrix.js'
import { matchesSelector } from '../src/netpol/selector.js'
import type { Endpoint, NetworkPolicy } from '../src/netpol/types.js'

interface Container {
  name: string
  command?: string[]
  args?: string[]
  env?: { name: string; value: string }[]
}
interface JobSpec {
  backoffLimit?: number
  activeDeadlineSeconds?: number
  ttlSecondsAfterFinished?: number
  template: {
    metadata: { labels: Record<string, string> }
    spec: { restartPolicy: string; serviceAccountName: string; containers: Container[] }
  }
}

const example = renderChart()
const testJobs = (objects: readonly K8sObject[]) =>
  objects.filter((object) => object.metadata.annotations?.['helm.sh/hook'] === 'test')
const job = testJobs(example)[0] as K8sObject
const spec = job.spec as JobSpec
const container = spec.template.spec.containers[0] as Container
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]))
const jobEnv = envOf(container)
const jobEnvOf = (objects: readonly K8sObject[]) => {
  const jobSpec = testJobs(objects)[0]?.spec as JobSpec
  return envOf(jobSpec.template.spec.containers[0] as Container)
}

t.test('a Job helm test runs once and keeps for its logs, never a bare Pod', async (t) => {
  t.same(
    testJobs(example).map((object) => object.kind),
    ['Job'],
  )
  t.notOk(
    example.some((object) => object.kind === 'Pod'),
    'no bare Pod',
  )
  t.equal(job.metadata.annotations?.['helm.sh/hook-delete-policy'], 'before-hook-creation')
  t.equal(spec.backoffLimit, 0, 'one attempt: a retry could hide a failure')
  t.ok((spec.ttlSecondsAfterFinished ?? 0) > 0, 'cleaned up after a while')
  t.ok((spec.activeDeadlineSeconds ?? 0) > 0, 'bounded')
  t.equal(spec.template.spec.restartPolicy, 'Never')
  t.equal(spec.template.spec.serviceAccountName, 'frontend', "the frontend's identity")
  t.equal(spec.template.metadata.labels.app, 'frontend', "the frontend's policies apply to it")
  const disabled = renderChart([], ['tests.enabled=false'])
  t.same(testJobs(disabled), [])
  t.notOk(
    disabled.some((object) => object.metadata.name === 'allow-frontend-test-to-frontend'),
    'and its policy goes with it',
  )
})

t.test('no Service, controller or budget selects the test pod', async (t) => {
  const labels = spec.template.metadata.labels
  for (const object of example) {
    const objectSpec = object.spec as {
      selector?: Record<string, string> | { matchLabels?: Record<string, string> }
    }
    if (!objectSpec?.selector || object.metadata.namespace !== job.metadata.namespace) continue
    const selector =
      object.kind === 'Service'
        ? { matchLabels: objectSpec.selector as Record<string, string> }
        : (objectSpec.selector as { matchLabels?: Record<string, string> })
    t.notOk(matchesSelector(selector, labels), `${object.kind}/${object.metadata.name}`)
  }
})

/** The model cluster, the test pod in it, and an endpoint for a probe target of the Job. */
function model(objects: readonly K8sObject[]) {
  const { cluster, appPods } = clusterFromManifests(objects)
  const pod = (name: string) => {
    const found = appPods.find((candidate) => candidate.name === name)
    if (!found) throw new Error(`no ${name} pod`)
    return found
  }
  /** `<service>.<namespace>.svc.cluster.local:<port>` -> a pod behind the Service; an IP -> itself. */
  const resolve = (target: string): [Endpoint, number] => {
    const [host = '', port = ''] = target.replace(/^https?:\/\//, '').split(':')
    const service = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(host)
    if (!service) {
      const external = environment.externals.find((candidate) => candidate.ip === host)
      return [{ kind: 'external', external: external ?? { name: host, ip: host } }, Number(port)]
    }
    const found = objects.find(
      (object) =>
        object.kind === 'Service' &&
        object.metadata.name === service[1] &&
        object.metadata.namespace === service[2],
    )
    const selector = (found?.spec as { selector?: Record<string, string> } | undefined)?.selector
    const backend = appPods.find(
      (candidate) =>
        candidate.namespace === service[2] &&
        selector !== undefined &&
        matchesSelector({ matchLabels: selector }, candidate.labels),
    )
    if (!backend) throw new Error(`no pod behind ${host}`)
    return [{ kind: 'pod', pod: backend }, Number(port)]
  }
  return { cluster, pod, resolve }
}

const list = (value: string | undefined) => (value ?? '').split(',').filter(Boolean)

/** Which of the Job's probes the policies would make fail (empty: helm test passes). */
function failingProbes(objects: readonly K8sObject[], env: Record<string, string>): string[] {
  const { cluster, pod, resolve } = model(objects)
  const source: Endpoint = { kind: 'pod', pod: pod('frontend-test') }
  const allowed = (target: string) => {
    const [destination, port] = resolve(target)
    return connectionAllowed(cluster, source, destination, { protocol: 'TCP', port })
  }
  const failing: string[] = []
  for (const target of [env.FRONTEND_URL ?? '', ...list(env.MUST_REACH)])
    if (!allowed(target)) failing.push(`${target} must be reachable`)
  for (const target of list(env.MUST_NOT_REACH))
    if (allowed(target)) failing.push(`${target} must not be reachable`)
  return failing
}

t.test('every probe expects what the policies produce: helm test passes', async (t) => {
  t.same(list(jobEnv.MUST_NOT_REACH), [
    'url-service.services.svc.cluster.local:8443',
    '169.254.169.254:80',
    '1.1.1.1:443',
  ])
  t.same(list(jobEnv.MUST_REACH), ['api-gateway.services.svc.cluster.local:8000'])
  for (const files of [[], ['pod-identity.yaml'], ['wide-aws-egress.yaml'], ['hpa.yaml']]) {
    const objects = renderChart(files)
    t.same(failingProbes(objects, jobEnvOf(objects)), [], files.join() || 'example values')
  }
  // Without the public policies the frontend may reach IMDS and the internet: the
  // Job asserts only what `services` still closes, and so still passes.
  const publicOff = renderChart(['public-policies-off.yaml'])
  t.same(list(jobEnvOf(publicOff).MUST_NOT_REACH), ['url-service.services.svc.cluster.local:8443'])
  t.same(failingProbes(publicOff, jobEnvOf(publicOff)), [])
  t.same(
    failingProbes(publicOff, jobEnv),
    ['169.254.169.254:80 must not be reachable', '1.1.1.1:443 must not be reachable'],
    'the full list would fail there, rightly',
  )
})

t.test('the test pod is the frontend to the policies, plus the frontend port', async (t) => {
  const { cluster, pod } = model(example)
  const frontendTest: Endpoint = { kind: 'pod', pod: pod('frontend-test') }
  const frontend: Endpoint = { kind: 'pod', pod: pod('frontend') }
  const destinations: Endpoint[] = [
    ...cluster.pods
      .filter((candidate) => candidate !== pod('frontend-test'))
      .map((candidate): Endpoint => ({ kind: 'pod', pod: candidate })),
    ...environment.externals.map((external): Endpoint => ({ kind: 'external', external })),
  ]
  const differences: string[] = []
  for (const destination of destinations) {
    for (const connection of probedConnections) {
      const asTest = connectionAllowed(cluster, frontendTest, destination, connection)
      const asFrontend = connectionAllowed(cluster, frontend, destination, connection)
      if (asTest !== asFrontend) {
        const name =
          destination.kind === 'pod'
            ? `${destination.pod.namespace}/${destination.pod.name}`
            : destination.external.name
        differences.push(`${name} ${connection.port}/${connection.protocol}: ${asTest}`)
      }
    }
  }
  t.same(differences, ['public/frontend 8080/TCP: true'])
})

t.test('a policy hole makes the probes fail (negative controls)', async (t) => {
  const egressOpen = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-all-egress', namespace: 'public' },
    spec: {
      podSelector: { matchLabels: { app: 'frontend' } },
      policyTypes: ['Egress'],
      egress: [{}],
    },
  }
  const withHole = [...example, egressOpen as K8sObject & NetworkPolicy]
  t.same(failingProbes(withHole, jobEnv), [
    '169.254.169.254:80 must not be reachable',
    '1.1.1.1:443 must not be reachable',
  ])
  // url-service admitting everyone: the frontend's own egress still holds, both ends must agree...
  const allowAll = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-all', namespace: 'services' },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] },
  }
  t.same(failingProbes([...example, allowAll as K8sObject & NetworkPolicy], jobEnv), [])
  // ...and with both holes the probe to url-service fails too.
  t.same(failingProbes([...withHole, allowAll as K8sObject & NetworkPolicy], jobEnv), [
    'url-service.services.svc.cluster.local:8443 must not be reachable',
    '169.254.169.254:80 must not be reachable',
    '1.1.1.1:443 must not be reachable',
  ])
})

/** A TCP port with a listener, and one without. */
async function ports(t: Test) {
  const server = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const closing = createServer()
  await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve))
  const closed = (closing.address() as AddressInfo).port
  await new Promise<void>((resolve) => closing.close(() => resolve()))
  return { open: (server.address() as AddressInfo).port, closed }
}

/** A loopback frontend answering the documented public API. */
async function frontendStandIn(t: Test): Promise<string> {
  const links = new Map<string, string>()
  const server = createHttpServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/urls') {
        links.set('abc123', (JSON.parse(body) as { url: string }).url)
        res.writeHead(201, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ code: 'abc123' }))
        return
      }
      const url = links.get(req.url?.replace('/r/', '') ?? '')
      if (url) res.writeHead(302, { location: url }).end()
      else res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Runs the script the Job names, from its source, with the Job's environment and `overrides`. */
function runJobScript(overrides: Record<string, string>) {
  const script = container.args?.[0] ?? ''
  const source = scriptSource(join(packageDir, '..', 'services', 'frontend'), script)
  if (container.command || !source) throw new Error(`the Job runs ${script}, not a frontend script`)
  return runScript(source, { ...jobEnv, ...overrides })
}

t.test("the Job's script passes on a sound path and fails on a hole", async (t) => {
  const { open, closed } = await ports(t)
  // The cluster's addresses become loopback stand-ins; names, flags and timeouts are the Job's.
  const local = {
    FRONTEND_URL: await frontendStandIn(t),
    MUST_REACH: `127.0.0.1:${open}`,
    MUST_NOT_REACH: [closed, closed, closed].map((port) => `127.0.0.1:${port}`).join(','),
  }
  const sound = await runJobScript(local)
  t.equal(sound.code, 0, sound.output)
  t.equal(sound.output.match(/^ok: .* is closed \(refused\)$/gm)?.length, 3)
  const hole = await runJobScript({ ...local, MUST_NOT_REACH: `127.0.0.1:${open}` })
  t.equal(hole.code, 1)
  t.match(
    hole.output,
    /not ok: 127\.0\.0\.1:\d+ is reachable: a NetworkPolicy lets this pod through/,
  )
  const noGateway = await runJobScript({ ...local, MUST_REACH: `127.0.0.1:${closed}` })
  t.equal(noGateway.code, 1, 'the allowed flow closed: the closed probes would prove nothing')
})
