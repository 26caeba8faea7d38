/**
 * Lesson 2, network isolation: the chart rendered by the pinned helm, its
 * NetworkPolicies evaluated by charts/src/netpol (the policy model, not a
 * cluster). Dropping `default-deny-all` leaves the worker reachable from
 * anything; dropping the IMDS `except` opens the metadata address in the
 * AWS egress rule. kubectl commands that show the same on a cluster are
 * printed beside each step.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { helmPath, type K8sObject, renderChart } from '../../../charts/src/helm.js'
import { connectionAllowed } from '../../../charts/src/netpol/evaluate.js'
import {
  clusterFromManifests,
  environment,
  type Flow,
  formatMatrix,
  reachabilityMatrix,
} from '../../../charts/src/netpol/matrix.js'
import type { Endpoint, NetworkPolicy } from '../../../charts/src/netpol/types.js'
import { repoRoot } from '../root.js'
import { type Lesson, type LessonContext, LessonFailure } from './runner.js'

/** Extracts the pinned helm (charts/scripts/tools.ts) when this checkout has not yet. */
export function ensureHelm(): void {
  if (existsSync(helmPath)) return
  const run = spawnSync(
    process.execPath,
    [
      '--conditions=zt-source',
      '--import=tsx',
      join(repoRoot, 'charts/scripts/tools.ts'),
      '--quiet',
    ],
    { cwd: join(repoRoot, 'charts'), encoding: 'utf8', timeout: 120_000 },
  )
  if (run.status !== 0) throw new Error(`could not extract helm: ${run.stderr || run.error}`)
}

const key = (flow: Flow) => `${flow.source} -> ${flow.destination}`

/** Flows in `after` that are new or have more ports than in `before`, formatted as the matrix is. */
export function newFlows(before: readonly Flow[], after: readonly Flow[]): Flow[] {
  const known = new Map(before.map((flow) => [key(flow), flow.ports.join(' ')]))
  return after.filter((flow) => known.get(key(flow)) !== flow.ports.join(' '))
}

const isPolicy = (object: K8sObject, name: string, namespace = 'services') =>
  object.kind === 'NetworkPolicy' &&
  object.metadata.name === name &&
  object.metadata.namespace === namespace

function podEndpoint(objects: readonly K8sObject[], namespace: string, name: string): Endpoint {
  const { cluster } = clusterFromManifests(objects)
  const pod = cluster.pods.find((p) => p.namespace === namespace && p.name === name)
  if (!pod) throw new Error(`no pod ${namespace}/${name} in the model`)
  return { kind: 'pod', pod }
}

function externalEndpoint(name: string): Endpoint {
  const external = environment.externals.find((e) => e.name === name)
  if (!external) throw new Error(`no external ${name} in the model`)
  return { kind: 'external', external }
}

export const networkIsolation: Lesson = {
  n: 2,
  layer: 'network isolation',
  title: 'default deny, then exactly the flows the system needs (NetworkPolicy)',
  blurb:
    'render the chart, drop default-deny-all (then the IMDS except) and see which pod can now reach what (no stack)',
  needsStack: false,
  async start(context: LessonContext) {
    const { say } = context
    say(
      'This lesson evaluates the POLICY MODEL: the chart rendered by the pinned helm, and the\n' +
        'NetworkPolicy evaluator in charts/src/netpol (the documented semantics, tested against the\n' +
        "Kubernetes documentation's examples) over a model cluster: one pod per workload, kube-dns,\n" +
        'an ingress-nginx controller, Prometheus, and outside addresses for the database, a VPC endpoint,\n' +
        'IMDS and the internet. No packets are sent. The kubectl lines show the same on a real cluster\n' +
        '(EKS with the VPC CNI network policy agent on); they are printed, not run.',
    )
    ensureHelm()
    let objects = renderChart()
    const baseline = reachabilityMatrix(objects)
    context.show(
      'pnpm --filter @zt/charts matrix   # helm template + the evaluator',
      `${formatMatrix(baseline)}\n(everything else is denied)`,
    )
    const deny = objects.find((o) => isPolicy(o, 'default-deny-all'))
    if (!deny) throw new Error('the chart rendered no default-deny-all in services')
    context.show(
      'kubectl -n services get networkpolicy default-deny-all -o yaml',
      JSON.stringify(deny.spec),
    )
    say(
      'The attacker: a compromised ingress controller (internet-facing, in ingress-nginx) opening a\n' +
        "connection to the worker's ops port, 9444. The worker takes no traffic at all in this design;\n" +
        'no policy admits anything to it, so only default-deny-all isolates it.',
    )
    const connection = { protocol: 'TCP' as const, port: 9444 }
    const probe = [
      "WORKER_IP=$(kubectl -n services get pod -l app=worker -o jsonpath='{.items[0].status.podIP}')",
      '  $ kubectl -n ingress-nginx run probe --rm -i --restart=Never --image=busybox:1.36 -- nc -zv -w 3 $WORKER_IP 9444',
    ].join('\n')

    return {
      attackName: 'ingress-nginx -> services/worker:9444',
      async attack() {
        const allowed = connectionAllowed(
          clusterFromManifests(objects).cluster,
          podEndpoint(objects, 'ingress-nginx', 'ingress-nginx'),
          podEndpoint(objects, 'services', 'worker'),
          connection,
        )
        context.show(
          probe,
          allowed
            ? 'model: ALLOWED   (on a cluster: "open")'
            : 'model: denied    (on a cluster: "timed out": the packet is dropped)',
        )
        return !allowed
      },
      async remove() {
        say('Delete default-deny-all from services (a real change to the rendered policy set):')
        objects = objects.filter((o) => !isPolicy(o, 'default-deny-all'))
        const flows = reachabilityMatrix(objects)
        context.show(
          'kubectl -n services delete networkpolicy default-deny-all   # model: the same object dropped',
          'networkpolicy.networking.k8s.io "default-deny-all" deleted',
        )
        context.show(
          'pnpm --filter @zt/charts matrix   # the flows that are new',
          formatMatrix(newFlows(baseline, flows)),
        )
        say(
          '   The worker is now open to every pod and every address, on every port. api-gateway and\n' +
            '   url-service are not: other policies still select them (an allow policy isolates the pods\n' +
            '   it selects), which is why the baseline deny matters most for the pod nobody wrote a rule for.\n' +
            '   (The outside addresses are sources the policy no longer rejects; whether a packet from the\n' +
            '   internet can arrive also depends on routing, and the pods sit in private subnets.)',
        )
      },
      async restore() {
        objects = renderChart()
        context.show(
          'kubectl apply -f network-policies/00-default-deny-all.yaml   # model: the chart rendered again',
          'networkpolicy.networking.k8s.io/default-deny-all created',
        )
        const flows = reachabilityMatrix(objects)
        if (newFlows(baseline, flows).length > 0 || flows.length !== baseline.length)
          throw new LessonFailure(
            'restored',
            'the matrix differs from the baseline after restoring',
          )
        context.show('pnpm --filter @zt/charts matrix', 'the baseline again: no new flows')
      },
      async after() {
        say(
          '\n== 6. The IMDS except\n' +
            'Without VPC endpoints the AWS APIs are public addresses, so the AWS egress rule must be\n' +
            '0.0.0.0/0 on 443 (charts/values/wide-aws-egress.yaml). The chart then adds an except for\n' +
            'the instance metadata address, 169.254.169.254, where the node role credentials live:',
        )
        const wide = renderChart(['wide-aws-egress.yaml'])
        const egress = wide.find((o) => isPolicy(o, 'allow-aws-endpoints-egress'))
        if (!egress) throw new LessonFailure('after', 'no allow-aws-endpoints-egress rendered')
        context.show(
          "kubectl -n services get networkpolicy allow-aws-endpoints-egress -o jsonpath='{.spec.egress}'",
          JSON.stringify((egress.spec as NetworkPolicy['spec']).egress),
        )
        const imdsFrom = (objs: readonly K8sObject[]) =>
          connectionAllowed(
            clusterFromManifests(objs).cluster,
            podEndpoint(objs, 'services', 'url-service'),
            externalEndpoint('imds'),
            { protocol: 'TCP', port: 443 },
          )
        const withExcept = imdsFrom(wide)
        context.show(
          '# model: url-service -> 169.254.169.254:443',
          withExcept ? 'ALLOWED' : 'denied',
        )
        const noExcept = structuredClone(wide)
        const policy = noExcept.find((o) => isPolicy(o, 'allow-aws-endpoints-egress'))
        const spec = policy?.spec as NetworkPolicy['spec'] | undefined
        for (const peer of spec?.egress?.[0]?.to ?? []) delete peer.ipBlock?.except
        const widened = newFlows(reachabilityMatrix(wide), reachabilityMatrix(noExcept))
        const withoutExcept = imdsFrom(noExcept)
        context.show(
          'kubectl -n services patch networkpolicy allow-aws-endpoints-egress --type=json \\\n' +
            '      -p=\'[{"op":"remove","path":"/spec/egress/0/to/0/ipBlock/except"}]\'\n' +
            '  $ pnpm --filter @zt/charts matrix wide-aws-egress.yaml   # the flows that are new',
          formatMatrix(widened),
        )
        context.show(
          '# model: url-service -> 169.254.169.254:443',
          withoutExcept ? 'ALLOWED' : 'denied',
        )
        const back = imdsFrom(renderChart(['wide-aws-egress.yaml']))
        context.show(
          'helm upgrade ... -f wide-aws-egress.yaml   # the chart puts the except back',
          back ? 'ALLOWED' : 'denied',
        )
        if (withExcept || !withoutExcept || back)
          throw new LessonFailure(
            'after',
            `IMDS: with except ${withExcept}, without ${withoutExcept}, restored ${back} (expected false, true, false)`,
          )
        say(
          '   Be exact about what this hole is: IMDS serves HTTP on port 80, and this rule allows 443 only,\n' +
            '   so the missing except is a latent hole; the next edit that adds a port opens the node\n' +
            "   role's credentials. Two more layers stand behind it on EKS: the nodes require IMDSv2 with a\n" +
            '   PUT response hop limit of 1 (infra/src/zero-trust-eks-stack.ts), so a pod one hop away\n' +
            '   gets no token, and each workload has its own role (IRSA or Pod Identity), so the node role\n' +
            '   is never what a pod needs. A pod with hostNetwork bypasses NetworkPolicy altogether;\n' +
            '   Pod Security "restricted" (the chart) forbids it.',
        )
      },
    }
  },
}
