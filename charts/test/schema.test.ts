/**
 * values.schema.json and the template guards reject what would deploy a
 * broken or weaker system: helm exits 1 before rendering anything.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { chartDir, helm, helmTemplate } from '../src/helm.js'

const template = (...set: string[]) => helmTemplate(set)

t.test('the example values render', async (t) => {
  t.equal(template().status, 0)
})

t.test('chart defaults alone are rejected: the account-specific values are required', async (t) => {
  const result = helm(['template', 'zt', chartDir])
  t.equal(result.status, 1)
  for (const path of [
    '/trustDomain',
    '/aws/region',
    '/db/secretArn',
    '/events/queueUrl',
    '/network/databaseCidrs',
  ]) {
    t.match(result.stderr, path)
  }
})

const rejected: [string, string, RegExp][] = [
  ['unknown top-level key', 'replicaCount=3', /additional properties 'replicaCount' not allowed/],
  [
    'unknown nested key (typo)',
    'apiGateway.rateLimit.maximum=5',
    /additional properties 'maximum' not allowed/,
  ],
  [
    'unknown key in a workload',
    'urlService.securityContext.runAsUser=0',
    /additional properties 'securityContext' not allowed/,
  ],
  ['wrong type', 'frontend.replicas=two', /want integer/],
  ['wrong type (boolean)', 'network.public.enabled=maybe', /want boolean/],
  ['bad enum: identity', 'aws.identity=kiam', /irsa.*podIdentity/],
  ['bad enum: spiffe mode', 'spiffe.mode=hostPath', /workloadApi.*files/],
  ['bad digest', 'images.urlService.digest=sha256:1234', /does not match pattern/],
  ['bad CIDR', 'network.databaseCidrs[0]=10.0.0.0/40', /does not match pattern/],
  ['bad trust domain', 'trustDomain=spiffe://zt.example.com', /does not match pattern/],
  ['bad role ARN', 'aws.roleArns.worker=zt-worker', /does not match pattern/],
  ['port out of range', 'db.port=70000', /maximum/],
  ['empty required value', 'db.host=', /minLength/],
  ['bad toleration operator', 'tolerations[0].operator=Maybe', /Exists.*Equal/],
  [
    'unknown affinity field (typo)',
    'worker.affinity.nodeAfinity.x=y',
    /additional properties 'nodeAfinity' not allowed/,
  ],
  ['pull secret without a name', 'imagePullSecrets[0].secret=regcred', /name/],
]
for (const [name, pair, message] of rejected) {
  t.test(`rejected: ${name} (--set ${pair})`, async (t) => {
    const result = template(pair)
    t.equal(result.status, 1)
    t.match(result.stderr, message)
    t.equal(result.stdout, '', 'nothing rendered')
  })
}

t.test('template guards: no rule may silently open to everything', async (t) => {
  const noIngressSource = template('network.public.ingressFrom.controller.namespace=')
  t.equal(noIngressSource.status, 1, 'an empty `from` would admit every source')
  t.match(noIngressSource.stderr, /ingressFrom needs controller\.namespace or cidrs/)
  const albOnly = template(
    'network.public.ingressFrom.controller.namespace=',
    'network.public.ingressFrom.cidrs[0]=10.0.16.0/20',
  )
  t.equal(albOnly.status, 0, 'an ALB subnet alone is a valid source')
  const imdsItself = template('network.awsEndpointCidrs[0]=169.254.169.254/32')
  t.equal(imdsItself.status, 1)
  t.match(imdsItself.stderr, /must not be the instance metadata address/)
})

t.test(
  'every object of values.schema.json is closed: no property is accepted unchecked',
  async (t) => {
    const schema: unknown = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'))
    const open: string[] = []
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return
      const record = node as Record<string, unknown>
      if (record.type === 'object') {
        const extra = record.additionalProperties
        // Closed (false), or a map whose values have their own schema (labels, annotations).
        if (extra !== false && (extra === undefined || extra === true)) open.push(path || '/')
      }
      for (const [key, value] of Object.entries(record)) walk(value, `${path}/${key}`)
    }
    walk(schema, '')
    t.same(open, [])
  },
)
