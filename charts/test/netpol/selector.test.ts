import t from 'tap'
import { cidrContains, parseIPv4 } from '../../src/netpol/cidr.js'
import { matchesSelector } from '../../src/netpol/selector.js'

t.test('an empty selector matches every pod, even one without labels', async (t) => {
  t.ok(matchesSelector({}, {}))
  t.ok(matchesSelector({}, { app: 'x' }))
})

t.test('matchLabels: every pair must match', async (t) => {
  t.ok(matchesSelector({ matchLabels: { app: 'api-gateway' } }, { app: 'api-gateway', tier: 'x' }))
  t.notOk(
    matchesSelector(
      { matchLabels: { app: 'api-gateway', tier: 'y' } },
      { app: 'api-gateway', tier: 'x' },
    ),
  )
  t.notOk(matchesSelector({ matchLabels: { app: 'api-gateway' } }, {}))
})

t.test('matchExpressions operators, ANDed with matchLabels', async (t) => {
  const labels = { app: 'worker', env: 'prod' }
  t.ok(
    matchesSelector(
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['url-service', 'worker'] }] },
      labels,
    ),
  )
  t.notOk(
    matchesSelector(
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['url-service'] }] },
      labels,
    ),
  )
  t.notOk(
    matchesSelector(
      { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['worker'] }] },
      labels,
    ),
  )
  t.ok(
    matchesSelector(
      { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] },
      labels,
    ),
  )
  t.ok(matchesSelector({ matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels))
  t.notOk(matchesSelector({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels))
  t.notOk(
    matchesSelector(
      {
        matchLabels: { env: 'prod' },
        matchExpressions: [{ key: 'app', operator: 'In', values: ['frontend'] }],
      },
      labels,
    ),
  )
})

t.test('IPv4 CIDR containment, including /0 and /32', async (t) => {
  t.equal(parseIPv4('169.254.169.254'), 2852039166)
  t.ok(cidrContains('172.17.0.0/16', '172.17.1.5'))
  t.notOk(cidrContains('172.17.0.0/16', '172.18.0.1'))
  t.ok(cidrContains('0.0.0.0/0', '169.254.169.254'))
  t.ok(cidrContains('169.254.169.254/32', '169.254.169.254'))
  t.notOk(cidrContains('169.254.169.254/32', '169.254.169.253'))
  t.throws(() => cidrContains('10.0.0.0/33', '10.0.0.1'))
  t.throws(() => parseIPv4('10.0.0.256'))
})
