/**
 * Each rule of NetworkPolicy semantics, with the examples of
 * kubernetes.io/docs/concepts/services-networking/network-policies.
 */
import t from 'tap'
import { cidrContains, parseIPv4 } from '../../src/netpol/cidr.js'
import {
  connectionAllowed,
  effectivePolicyTypes,
  egressAllowed,
  ingressAllowed,
} from '../../src/netpol/evaluate.js'
import { matchesSelector } from '../../src/netpol/selector.js'
import type { Cluster, Endpoint, NetworkPolicy, Pod } from '../../src/netpol/types.js'

const tcp = (port: number) => ({ protocol: 'TCP' as const, port })
const pod = (
  name: string,
  namespace: string,
  labels: Record<string, string>,
  ip: string,
  ports?: Pod['ports'],
): Pod => ({
  name,
  namespace,
  labels,
  ip,
  ...(ports ? { ports } : {}),
})
const at = (p: Pod): Endpoint => ({ kind: 'pod', pod: p })
const ext = (ip: string): Endpoint => ({ kind: 'external', external: { name: ip, ip } })

// The docs' cluster: a database pod and clients in `default` and `myproject`.
const db = pod('db', 'default', { role: 'db' }, '10.1.0.10', [
  { name: 'redis', containerPort: 6379 },
])
const frontend = pod('frontend', 'default', { role: 'frontend' }, '10.1.0.11')
const other = pod('other', 'default', { role: 'other' }, '10.1.0.12')
const inProject = pod('p', 'myproject', { role: 'anything' }, '10.1.0.13')
const frontendElsewhere = pod('fe2', 'elsewhere', { role: 'frontend' }, '10.1.0.14')
const namespaces = [
  { name: 'default' },
  { name: 'myproject', labels: { project: 'myproject' } },
  { name: 'elsewhere' },
]
const cluster = (...policies: NetworkPolicy[]): Cluster => ({
  namespaces,
  pods: [db, frontend, other, inProject, frontendElsewhere],
  policies,
})

// The docs' "test-network-policy".
const testNetworkPolicy: NetworkPolicy = {
  metadata: { name: 'test-network-policy', namespace: 'default' },
  spec: {
    podSelector: { matchLabels: { role: 'db' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        from: [
          { ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } },
          { namespaceSelector: { matchLabels: { project: 'myproject' } } },
          { podSelector: { matchLabels: { role: 'frontend' } } },
        ],
        ports: [{ protocol: 'TCP', port: 6379 }],
      },
    ],
    egress: [
      { to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] },
    ],
  },
}

t.test('the docs example: peers in separate elements are ORed; ports restrict', async (t) => {
  const c = cluster(testNetworkPolicy)
  t.ok(ingressAllowed(c, at(frontend), db, tcp(6379)), 'role=frontend pod in the policy namespace')
  t.ok(
    ingressAllowed(c, at(inProject), db, tcp(6379)),
    'any pod in a namespace labelled project=myproject',
  )
  t.ok(ingressAllowed(c, ext('172.17.0.5'), db, tcp(6379)), 'an address in the ipBlock')
  t.notOk(ingressAllowed(c, ext('172.17.1.5'), db, tcp(6379)), 'an address in the except range')
  t.notOk(ingressAllowed(c, at(other), db, tcp(6379)), 'a pod no peer matches')
  t.notOk(
    ingressAllowed(c, at(frontendElsewhere), db, tcp(6379)),
    'podSelector alone means the policy namespace',
  )
  t.notOk(ingressAllowed(c, at(frontend), db, tcp(6380)), 'another port')
  t.notOk(ingressAllowed(c, at(frontend), db, { protocol: 'UDP', port: 6379 }), 'another protocol')
  t.ok(egressAllowed(c, db, ext('10.0.0.7'), tcp(5978)))
  t.notOk(egressAllowed(c, db, ext('10.0.1.7'), tcp(5978)))
  t.notOk(egressAllowed(c, db, ext('10.0.0.7'), tcp(443)))
})

t.test(
  'namespaceSelector and podSelector in ONE element mean AND; in two elements OR',
  async (t) => {
    const alice = { name: 'alice', labels: { user: 'alice' } }
    const client = pod('client', 'alice', { role: 'client' }, '10.1.0.20')
    const aliceOther = pod('other', 'alice', { role: 'other' }, '10.1.0.21')
    const clientDefault = pod('client', 'default', { role: 'client' }, '10.1.0.22')
    const base = {
      namespaces: [...namespaces, alice],
      pods: [db, client, aliceOther, clientDefault],
    }
    const policy = (
      from: NonNullable<NetworkPolicy['spec']['ingress']>[number]['from'],
    ): NetworkPolicy => ({
      metadata: { name: 'p', namespace: 'default' },
      spec: { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ from }] },
    })
    const and = {
      ...base,
      policies: [
        policy([
          {
            namespaceSelector: { matchLabels: { user: 'alice' } },
            podSelector: { matchLabels: { role: 'client' } },
          },
        ]),
      ],
    }
    t.ok(ingressAllowed(and, at(client), db, tcp(1)))
    t.notOk(ingressAllowed(and, at(aliceOther), db, tcp(1)), 'right namespace, wrong pod')
    t.notOk(ingressAllowed(and, at(clientDefault), db, tcp(1)), 'right pod, wrong namespace')
    const or = {
      ...base,
      policies: [
        policy([
          { namespaceSelector: { matchLabels: { user: 'alice' } } },
          { podSelector: { matchLabels: { role: 'client' } } },
        ]),
      ],
    }
    t.ok(ingressAllowed(or, at(client), db, tcp(1)))
    t.ok(ingressAllowed(or, at(aliceOther), db, tcp(1)), 'any pod of the namespace')
    t.ok(ingressAllowed(or, at(clientDefault), db, tcp(1)), 'role=client in the policy namespace')
  },
)

t.test('kubernetes.io/metadata.name is set on every namespace automatically', async (t) => {
  const c = cluster({
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      podSelector: {},
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'elsewhere' } } },
          ],
        },
      ],
    },
  })
  t.ok(ingressAllowed(c, at(frontendElsewhere), db, tcp(1)))
  t.notOk(ingressAllowed(c, at(inProject), db, tcp(1)))
})

t.test('a pod that no policy selects is open in both directions', async (t) => {
  const c = cluster(testNetworkPolicy)
  t.ok(ingressAllowed(c, ext('8.8.8.8'), frontend, tcp(22)))
  t.ok(egressAllowed(c, frontend, ext('8.8.8.8'), tcp(22)))
})

t.test('policies are additive: any selecting policy can allow', async (t) => {
  const allow7000: NetworkPolicy = {
    metadata: { name: 'extra', namespace: 'default' },
    spec: { podSelector: { matchLabels: { role: 'db' } }, ingress: [{ ports: [{ port: 7000 }] }] },
  }
  const c = cluster(testNetworkPolicy, allow7000)
  t.ok(ingressAllowed(c, at(other), db, tcp(7000)), 'from every source, by the second policy')
  t.ok(ingressAllowed(c, at(frontend), db, tcp(6379)), 'the first policy still applies')
  t.notOk(ingressAllowed(c, at(other), db, tcp(6379)))
})

t.test('default policies of the docs', async (t) => {
  const denyIngress: NetworkPolicy = {
    metadata: { name: 'default-deny-ingress', namespace: 'default' },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  }
  const c1 = cluster(denyIngress)
  t.notOk(
    ingressAllowed(c1, at(frontend), db, tcp(6379)),
    'default deny ingress isolates every pod',
  )
  t.ok(egressAllowed(c1, db, ext('8.8.8.8'), tcp(53)), 'but leaves egress open')

  const allowAllIngress: NetworkPolicy = {
    metadata: { name: 'allow-all-ingress', namespace: 'default' },
    spec: { podSelector: {}, ingress: [{}], policyTypes: ['Ingress'] },
  }
  t.ok(
    ingressAllowed(cluster(denyIngress, allowAllIngress), ext('8.8.8.8'), db, tcp(1)),
    'an empty rule allows all',
  )

  const denyEgress: NetworkPolicy = {
    metadata: { name: 'default-deny-egress', namespace: 'default' },
    spec: { podSelector: {}, policyTypes: ['Egress'] },
  }
  const c2 = cluster(denyEgress)
  t.notOk(
    egressAllowed(c2, db, ext('8.8.8.8'), { protocol: 'UDP', port: 53 }),
    'default deny egress blocks DNS too',
  )
  t.ok(ingressAllowed(c2, ext('8.8.8.8'), db, tcp(1)))

  const allowAllEgress: NetworkPolicy = {
    metadata: { name: 'allow-all-egress', namespace: 'default' },
    spec: { podSelector: {}, egress: [{}], policyTypes: ['Egress'] },
  }
  t.ok(egressAllowed(cluster(denyEgress, allowAllEgress), db, ext('8.8.8.8'), tcp(1)))

  const denyAll: NetworkPolicy = {
    metadata: { name: 'default-deny-all', namespace: 'default' },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  }
  const c3 = cluster(denyAll)
  t.notOk(ingressAllowed(c3, at(frontend), db, tcp(1)))
  t.notOk(egressAllowed(c3, db, at(frontend), tcp(1)))

  const otherNamespace: NetworkPolicy = {
    ...denyAll,
    metadata: { name: 'deny', namespace: 'elsewhere' },
  }
  t.ok(
    ingressAllowed(cluster(otherNamespace), at(frontend), db, tcp(1)),
    'a policy selects pods of its own namespace only',
  )
})

t.test('policyTypes defaults: Ingress always, Egress only with egress rules', async (t) => {
  const ingressOnly: NetworkPolicy = {
    metadata: { name: 'i', namespace: 'default' },
    spec: {
      podSelector: { matchLabels: { role: 'db' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }] }],
    },
  }
  t.same(effectivePolicyTypes(ingressOnly), ['Ingress'])
  t.ok(egressAllowed(cluster(ingressOnly), db, ext('8.8.8.8'), tcp(443)), 'egress stays open')
  t.notOk(ingressAllowed(cluster(ingressOnly), at(other), db, tcp(1)))

  const noRules: NetworkPolicy = {
    metadata: { name: 'n', namespace: 'default' },
    spec: { podSelector: {} },
  }
  t.same(effectivePolicyTypes(noRules), ['Ingress'])
  t.notOk(
    ingressAllowed(cluster(noRules), at(frontend), db, tcp(1)),
    'no rules and no policyTypes: deny ingress',
  )

  const withEgress: NetworkPolicy = {
    metadata: { name: 'e', namespace: 'default' },
    spec: {
      podSelector: { matchLabels: { role: 'db' } },
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }] }],
    },
  }
  t.same(effectivePolicyTypes(withEgress), ['Ingress', 'Egress'])
  t.notOk(egressAllowed(cluster(withEgress), db, ext('8.8.8.8'), tcp(443)))
  t.notOk(
    ingressAllowed(cluster(withEgress), at(frontend), db, tcp(1)),
    'and ingress is isolated too',
  )

  const explicitEgressOnly: NetworkPolicy = {
    ...withEgress,
    spec: { ...withEgress.spec, policyTypes: ['Egress'] },
  }
  t.ok(
    ingressAllowed(cluster(explicitEgressOnly), at(frontend), db, tcp(1)),
    'explicit policyTypes win',
  )
})

t.test(
  'ports: protocol defaults to TCP, port ranges with endPort, port omitted means all',
  async (t) => {
    const policy = (
      ports: NonNullable<NetworkPolicy['spec']['egress']>[number]['ports'],
    ): Cluster =>
      cluster({
        metadata: { name: 'p', namespace: 'default' },
        spec: {
          podSelector: { matchLabels: { role: 'db' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports }],
        },
      })
    const target = ext('10.0.0.1')
    const range = policy([{ protocol: 'TCP', port: 32000, endPort: 32768 }])
    t.ok(egressAllowed(range, db, target, tcp(32000)))
    t.ok(egressAllowed(range, db, target, tcp(32768)))
    t.notOk(egressAllowed(range, db, target, tcp(32769)))
    t.notOk(egressAllowed(range, db, target, tcp(31999)))
    const dnsTcpOnly = policy([{ port: 53 }])
    t.ok(egressAllowed(dnsTcpOnly, db, target, tcp(53)))
    t.notOk(
      egressAllowed(dnsTcpOnly, db, target, { protocol: 'UDP', port: 53 }),
      'no protocol means TCP',
    )
    const allUdp = policy([{ protocol: 'UDP' }])
    t.ok(egressAllowed(allUdp, db, target, { protocol: 'UDP', port: 9999 }))
    t.notOk(egressAllowed(allUdp, db, target, tcp(9999)))
  },
)

t.test('named ports resolve on the destination pod', async (t) => {
  const c = cluster({
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      podSelector: { matchLabels: { role: 'db' } },
      ingress: [{ ports: [{ port: 'redis' }] }],
    },
  })
  t.ok(ingressAllowed(c, at(frontend), db, tcp(6379)))
  t.notOk(ingressAllowed(c, at(frontend), db, tcp(6380)))
  const egress = cluster({
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      podSelector: { matchLabels: { role: 'frontend' } },
      policyTypes: ['Egress'],
      egress: [{ ports: [{ port: 'redis' }] }],
    },
  })
  t.ok(egressAllowed(egress, frontend, at(db), tcp(6379)))
  t.notOk(egressAllowed(egress, frontend, at(other), tcp(6379)), 'a pod without that port name')
  t.notOk(
    egressAllowed(egress, frontend, ext('8.8.8.8'), tcp(6379)),
    'an address has no named ports',
  )
})

t.test('a connection needs egress at the source AND ingress at the destination', async (t) => {
  const ingressOpen: NetworkPolicy = {
    metadata: { name: 'in', namespace: 'default' },
    spec: {
      podSelector: { matchLabels: { role: 'db' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }] }],
    },
  }
  const egressClosed: NetworkPolicy = {
    metadata: { name: 'out', namespace: 'default' },
    spec: { podSelector: { matchLabels: { role: 'frontend' } }, policyTypes: ['Egress'] },
  }
  t.ok(connectionAllowed(cluster(ingressOpen), at(frontend), at(db), tcp(6379)))
  t.notOk(
    connectionAllowed(cluster(ingressOpen, egressClosed), at(frontend), at(db), tcp(6379)),
    'source egress denies',
  )
  t.notOk(
    connectionAllowed(cluster(ingressOpen), at(other), at(db), tcp(6379)),
    'destination ingress denies',
  )
  t.ok(
    connectionAllowed(cluster(egressClosed), ext('8.8.8.8'), at(db), tcp(1)),
    'an external source has no egress side',
  )
})

t.test('ipBlock matches pod addresses too, and except carves holes', async (t) => {
  const c = cluster({
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      podSelector: { matchLabels: { role: 'frontend' } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32', '10.1.0.10/32'] } }],
        },
      ],
    },
  })
  t.ok(egressAllowed(c, frontend, ext('1.1.1.1'), tcp(443)))
  t.notOk(egressAllowed(c, frontend, ext('169.254.169.254'), tcp(80)), 'IMDS excepted')
  t.notOk(egressAllowed(c, frontend, at(db), tcp(6379)), 'a pod address excepted')
  t.ok(egressAllowed(c, frontend, at(other), tcp(6379)), 'other pod addresses are in 0.0.0.0/0')
})

t.test('malformed peers are rejected, not guessed', async (t) => {
  const bad = (peer: object): Cluster =>
    cluster({
      metadata: { name: 'p', namespace: 'default' },
      spec: { podSelector: {}, ingress: [{ from: [peer] }] },
    })
  t.throws(() => ingressAllowed(bad({}), at(frontend), db, tcp(1)))
  t.throws(() =>
    ingressAllowed(
      bad({ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }),
      at(frontend),
      db,
      tcp(1),
    ),
  )
})

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
