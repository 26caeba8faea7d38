/**
 * `pnpm test:containers`: the Helm chart, rendered in two configurations
 * that between them cover IRSA and EKS Pod Identity, the SPIFFE CSI driver
 * (Workload API) and spiffe-helper (files), run container by container from
 * the images `pnpm images` built, as the kubelet would run them on an
 * emulated EKS node (node.ts). Each run must bring every Deployment's pod to
 * ready on the chart's own probes, carry a link, its redirect and the
 * worker's click count through the containers, and pass `helm test`'s pod.
 * A container whose command cannot exec in its image fails the run, named.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { repoRoot } from '../src/root.js'
import { type Configuration, type RunReport, runConfiguration } from './chart-run.js'
import { imageName, SERVICES } from './images.js'
import { ensurePodman, imageExists } from './podman.js'

const CONFIGURATIONS: Configuration[] = [
  { name: 'irsa-csi', valueFiles: [], identity: 'irsa', spiffe: 'workloadApi', index: 0 },
  {
    name: 'podid-helper',
    valueFiles: ['pod-identity.yaml', 'spiffe-files.yaml'],
    identity: 'podIdentity',
    spiffe: 'files',
    index: 1,
  },
]
const only = process.env.ZT_K8S_ONLY
const reportDir = join(repoRoot, 'artifacts/containers')

t.before(async () => {
  await ensurePodman((line) => t.comment(line))
  for (const service of SERVICES) {
    if (!(await imageExists(imageName(service)))) {
      throw new Error(`no image ${imageName(service)}: run \`pnpm images\` first`)
    }
  }
  await mkdir(reportDir, { recursive: true })
})

function table(report: RunReport): string {
  return report.containers
    .map((c) => {
      const how = c.command
        ? `command ${JSON.stringify(c.command)}`
        : `args ${JSON.stringify((c.args ?? []).map((a) => (a.length > 30 ? `${a.slice(0, 27)}...` : a)))}`
      const state = c.execProblem
        ? `CANNOT START: ${c.execProblem}`
        : c.emulated
          ? 'emulated'
          : !c.execChecked
            ? 'not reached (third-party image, emulated when reached)'
            : c.exitCode !== undefined
              ? `exited ${c.exitCode}`
              : report.ready.includes(c.pod)
                ? 'ready'
                : 'not ready'
      return `${c.pod}/${c.container} (${c.kind}) ${how}: ${state}`
    })
    .join('\n')
}

for (const configuration of CONFIGURATIONS) {
  if (only && only !== configuration.name) continue
  t.test(`chart ${configuration.name}: every container runs from the images`, async (t) => {
    const report = await runConfiguration(configuration, { log: (line) => t.comment(line) })
    await writeFile(
      join(reportDir, `${configuration.name}.json`),
      `${JSON.stringify(report, null, 2)}\n`,
    )
    t.comment(`\n${table(report)}\n(${report.seconds.toFixed(0)} s)`)

    const deployments = [
      'public/frontend',
      'services/api-gateway',
      'services/url-service',
      'services/worker',
    ]
    t.same(
      [...report.rendered.deployments].sort(),
      deployments,
      'the chart renders the four workloads',
    )
    t.equal(
      report.rendered.testPods.length,
      1,
      `and one helm test pod: ${report.rendered.testPods}`,
    )

    // Each container's command, checked against its image's files before anything ran.
    for (const c of report.containers) {
      if (!c.execChecked) continue
      t.notOk(
        c.execProblem,
        `${c.pod}/${c.container} (${c.kind}) can start in ${c.image}${c.execProblem ? `: ${c.execProblem}` : ''}`,
      )
    }
    t.same(report.failures, [], 'no container failed to start, to complete or to become ready')
    if (report.failures.length > 0) return

    t.same([...report.ready].sort(), deployments, 'every Deployment pod is ready on its own probes')
    for (const pod of deployments) {
      const kinds = report.probes.filter((p) => p.pod === pod).map((p) => p.kind)
      t.same(
        kinds,
        ['startup', 'readiness', 'liveness'],
        `${pod}: startup, readiness and liveness probes passed`,
      )
    }
    const inits = report.containers.filter((c) => c.kind === 'init')
    t.same(
      inits.map((c) => `${c.pod}/${c.container}:${c.exitCode}`).sort(),
      ['services/url-service/migrate:0', 'services/worker/migrate:0'],
      'url-service and worker pods migrated first, in their own init container',
    )

    const e2e = report.endToEnd
    t.ok(e2e, 'a link was made through the frontend container')
    t.equal(e2e?.status, 302, 'its short link redirects')
    t.match(
      e2e?.location ?? '',
      /^https:\/\/example\.com\/containers\//,
      'to the URL it was made for',
    )
    t.equal(
      e2e?.clicks,
      1,
      `the worker counted the click in PostgreSQL (after ${e2e?.clickSeconds.toFixed(1)} s)`,
    )

    // helm test prints one ok:/not ok: line per check. Its closed-door probes
    // (what the test pod must NOT reach) cannot hold here: no NetworkPolicy
    // engine runs, and this machine's egress proxy accepts every TCP
    // connection. Those failures are expected and reported; any other fails.
    const output = report.helmTest?.output ?? ''
    const lines = output.split('\n').filter((l) => /^(not )?ok:/.test(l))
    const unenforced = lines.filter((l) =>
      /^not ok: .* is reachable: a NetworkPolicy lets this pod through$/.test(l),
    )
    const broken = lines.filter((l) => l.startsWith('not ok:') && !unenforced.includes(l))
    t.match(
      output,
      /^ok: (public path: )?\S+ -> https:\/\/example\.com\/helm-test\//m,
      'helm test: a link made and followed through the frontend',
    )
    t.same(broken, [], 'helm test: no check failed but those only NetworkPolicies can pass')
    t.equal(
      report.helmTest?.exitCode,
      unenforced.length > 0 ? 1 : 0,
      unenforced.length > 0
        ? `helm test exits 1 here, for its closed-door probes alone (no policy enforcement): ${unenforced.map((l) => l.slice(8)).join('; ')}`
        : `helm test's pod passed: ${output.trim()}`,
    )

    t.ok(
      report.database.tlsSessions > 0,
      `every database session was TLS, verify-full against db.caBundle (${report.database.tlsSessions})`,
    )
    t.equal(report.database.refusedPlaintext, 0, 'no container tried PostgreSQL without TLS')

    const ids = report.spiffe
    t.equal(
      ids['api-gateway'],
      'spiffe://zt.example.com/ns/services/sa/api-gateway',
      'api-gateway got its SVID',
    )
    t.equal(
      ids['url-service'],
      'spiffe://zt.example.com/ns/services/sa/url-service',
      'url-service got its SVID',
    )
    if (configuration.spiffe === 'files') {
      for (const pod of ['services/api-gateway', 'services/url-service']) {
        t.ok(
          report.containers.find((c) => c.pod === pod && c.container === 'spiffe-helper')?.emulated,
          `${pod}: spiffe-helper's files written where its rendered config says`,
        )
      }
    }

    const { aws } = report
    if (configuration.identity === 'irsa') {
      const calls = aws.stsCalls.map((c) => `${c.roleArn} ${c.subject}`)
      for (const sa of ['url-service', 'worker']) {
        t.ok(
          calls.includes(
            `arn:aws:iam::123456789012:role/zt-${sa} system:serviceaccount:services:${sa}`,
          ),
          `IRSA: ${sa}'s projected token was exchanged for its ServiceAccount's role`,
        )
      }
      t.same(
        aws.secretReaders,
        [aws.issued.irsa],
        'Secrets Manager was read only with what STS returned',
      )
      t.same(aws.podIdentityCalls, [], 'no Pod Identity agent involved')
    } else {
      t.same(aws.stsCalls, [], 'no web identity exchange with Pod Identity')
      const roles = aws.podIdentityCalls.filter((c) => c.status === 200).map((c) => c.role)
      for (const sa of ['url-service', 'worker']) {
        t.ok(
          roles.includes(`arn:aws:iam::123456789012:role/zt-${sa}-pod-identity`),
          `Pod Identity: ${sa}'s token got its association's credentials from 169.254.170.23`,
        )
      }
      t.notOk(
        aws.podIdentityCalls.some((c) => c.status !== 200),
        'the agent refused no request',
      )
      const podIdentityKeys = Object.entries(aws.issued)
        .filter(([k]) => k.includes('/'))
        .map(([, v]) => v)
      t.ok(
        aws.secretReaders.length > 0 && aws.secretReaders.every((k) => podIdentityKeys.includes(k)),
        'Secrets Manager was read only with the agent-issued credentials',
      )
    }

    // No NetworkPolicy engine runs here: say what the test pod can really reach.
    const reach = report.testPodReach ?? {}
    t.comment(`from the helm test pod: ${JSON.stringify(reach)}`)
    t.equal(
      reach.urlServiceTcp,
      'connected',
      'url-service:8443 IS reachable from the test pod here (policies not enforced; a real cluster must refuse it)',
    )
    t.notMatch(
      reach.imdsToken ?? '',
      /^200 /,
      'no IMDSv2 token from the test pod (nothing answers as IMDS here)',
    )
    t.notMatch(
      reach.internetHttps ?? '',
      /^200 /,
      'no HTTPS exchange with the internet (this machine has none)',
    )
  })
}
