// `cdk synth` of the real app with the real CLI, offline: committed
// cdk.context.json (AZ lookup), telemetry and notices off, the sample account
// and region from cdk.json. CloudFormation Validate (schema checks built into
// aws-cdk-lib) runs too: this is the only place that checks property names
// and types against CloudFormation's schemas without an AWS account.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { testCaBundle } from './helpers.js'

const infraDir = new URL('..', import.meta.url).pathname
const work = mkdtempSync(join(tmpdir(), 'zt-infra-synth-'))
t.teardown(() => spawnSync('rm', ['-rf', work]))
const caFile = join(work, 'ca.pem')
writeFileSync(caFile, testCaBundle)
const outdir = join(work, 'cdk.out')

const run = spawnSync(
  join(infraDir, 'node_modules/.bin/cdk'),
  [
    'synth',
    '--quiet',
    '--no-notices',
    '--output',
    outdir,
    '--context',
    `zt:dbCaBundleFile=${caFile}`,
  ],
  {
    cwd: infraDir,
    encoding: 'utf8',
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CI: 'true' },
    timeout: 240_000,
  },
)

t.test('cdk synth succeeds offline for the sample account and region', async (t) => {
  t.equal(run.status, 0, run.stderr)
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'))
  t.notOk(manifest.missing, 'no context lookup is missing (cdk.context.json covers it)')
  t.match(manifest.artifacts.ZeroTrustEks, {
    type: 'aws:cloudformation:stack',
    environment: 'aws://123456789012/eu-west-1',
  })
  const template = JSON.parse(readFileSync(join(outdir, 'ZeroTrustEks.template.json'), 'utf8'))
  const subnets = Object.values(
    template.Resources as Record<
      string,
      { Type: string; Properties: { AvailabilityZone?: string } }
    >,
  )
    .filter((r) => r.Type === 'AWS::EC2::Subnet')
    .map((r) => r.Properties.AvailabilityZone)
  t.same(
    [...new Set(subnets)].sort(),
    ['eu-west-1a', 'eu-west-1b'],
    'AZs come from cdk.context.json',
  )
})

t.test('CloudFormation Validate reports nothing unacknowledged', async (t) => {
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'))
  for (const plugin of report.pluginReports) {
    t.equal(plugin.conclusion, 'success', plugin.pluginName)
    t.same(
      plugin.violations.map(
        (v: { ruleName: string; description: string }) => `${v.ruleName}: ${v.description}`,
      ),
      [],
    )
  }
})
