import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App } from 'aws-cdk-lib'
import t, { type Test } from 'tap'
import { parseStackConfig, readStackConfig } from '../src/config.js'
import { sampleInput, testCaBundle } from './helpers.js'

const rejects = (t: Test, overrides: Record<string, unknown>, key: string) =>
  t.throws(() => parseStackConfig({ ...sampleInput, ...overrides }), new RegExp(`zt:${key}`))

t.test('defaults: Pod Identity, private endpoint, deletion protection on', async (t) => {
  const config = parseStackConfig(sampleInput)
  t.equal(config.identityMode, 'podIdentity')
  t.same(config.publicEndpointCidrs, [])
  t.equal(config.deletionProtection, true)
})

t.test('the public endpoint cannot be opened to the world', async (t) => {
  rejects(t, { publicEndpointCidrs: ['0.0.0.0/0'] }, 'publicEndpointCidrs')
  rejects(t, { publicEndpointCidrs: ['300.1.2.3/24'] }, 'publicEndpointCidrs')
  rejects(t, { publicEndpointCidrs: ['example.com'] }, 'publicEndpointCidrs')
  t.same(
    parseStackConfig({ ...sampleInput, publicEndpointCidrs: ['203.0.113.7/32'] })
      .publicEndpointCidrs,
    ['203.0.113.7/32'],
  )
})

t.test('identity mode, trust domain and account are validated', async (t) => {
  rejects(t, { identityMode: 'kiam' }, 'identityMode')
  rejects(t, { trustDomain: 'Prod.Example.com' }, 'trustDomain')
  rejects(t, { trustDomain: 'spiffe://zt.example.com' }, 'trustDomain')
  rejects(t, { account: '1234' }, 'account')
  rejects(t, { dbCaBundle: 'not a pem' }, 'dbCaBundle')
  rejects(
    t,
    { images: { ...sampleInput.images, urlService: { repository: 'x', digest: 'sha256:short' } } },
    'images',
  )
})

/** Context as `cdk deploy -c zt:...=...` passes it: every value a string. */
const commandLine = {
  'zt:account': '123456789012',
  'zt:region': 'eu-west-1',
  'zt:trustDomain': 'zt.example.com',
  'zt:publicBaseUrl': 'https://sho.example.com',
  'zt:images': JSON.stringify(sampleInput.images),
  'zt:publicEndpointCidrs': '203.0.113.0/24, 198.51.100.0/24',
  'zt:deletionProtection': 'false',
}

t.test(
  'context: the RDS CA bundle file is required, command-line strings are converted',
  async (t) => {
    const context = { ...commandLine, 'zt:identityMode': 'irsa' }
    t.throws(() => readStackConfig(new App({ context }).node), /zt:dbCaBundleFile/)
    const caFile = new URL('../cdk.context.json', import.meta.url).pathname
    // Any readable file gets as far as the PEM check; a real bundle passes it.
    t.throws(
      () => readStackConfig(new App({ context: { ...context, 'zt:dbCaBundleFile': caFile } }).node),
      /zt:dbCaBundle: /,
    )
  },
)

t.test('context from the command line parses into the config', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-infra-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const caFile = join(dir, 'ca.pem')
  writeFileSync(caFile, testCaBundle)
  const app = new App({
    context: {
      ...commandLine,
      'zt:natGateways': '2',
      'zt:identityMode': 'irsa',
      'zt:dbCaBundleFile': caFile,
    },
  })
  const config = readStackConfig(app.node)
  t.same(config.publicEndpointCidrs, ['203.0.113.0/24', '198.51.100.0/24'])
  t.equal(config.deletionProtection, false)
  t.equal(config.natGateways, 2)
  t.equal(config.identityMode, 'irsa')
  t.equal(config.dbCaBundle, testCaBundle)
})
