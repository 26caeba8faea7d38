import t from 'tap'
import { type PodSpec, podSecurityViolations } from '../src/pod-security.js'

const hardened = (): PodSpec => ({
  automountServiceAccountToken: false,
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 10001,
    runAsGroup: 10001,
    seccompProfile: { type: 'RuntimeDefault' },
  },
  containers: [
    {
      name: 'app',
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '1', memory: '64Mi' } },
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    },
  ],
  volumes: [{ name: 'tmp', emptyDir: {} }],
})

t.test('a hardened pod has no violations', async (t) => {
  t.same(podSecurityViolations(hardened()), [])
})

t.test('each weakening is caught', async (t) => {
  const cases: [string, (spec: PodSpec) => void, RegExp][] = [
    [
      'root allowed',
      (s) => {
        s.securityContext!.runAsNonRoot = false
      },
      /runAsNonRoot/,
    ],
    [
      'no numeric user',
      (s) => {
        delete s.securityContext!.runAsUser
      },
      /runAsUser/,
    ],
    [
      'unconfined seccomp',
      (s) => {
        s.securityContext!.seccompProfile = { type: 'Unconfined' }
      },
      /seccompProfile/,
    ],
    [
      'API token mounted',
      (s) => {
        delete s.automountServiceAccountToken
      },
      /automountServiceAccountToken/,
    ],
    [
      'host network',
      (s) => {
        s.hostNetwork = true
      },
      /host namespaces/,
    ],
    [
      'hostPath volume',
      (s) => {
        s.volumes!.push({ name: 'sock', hostPath: { path: '/run/spire' } })
      },
      /hostPath is not allowed/,
    ],
    [
      'privilege escalation',
      (s) => {
        s.containers![0]!.securityContext!.allowPrivilegeEscalation = true
      },
      /allowPrivilegeEscalation/,
    ],
    [
      'writable root',
      (s) => {
        delete s.containers![0]!.securityContext!.readOnlyRootFilesystem
      },
      /readOnlyRootFilesystem/,
    ],
    [
      'capabilities kept',
      (s) => {
        s.containers![0]!.securityContext!.capabilities = { drop: ['NET_RAW'] }
      },
      /drop ALL/,
    ],
    [
      'capability added',
      (s) => {
        s.containers![0]!.securityContext!.capabilities!.add = ['NET_ADMIN']
      },
      /add is forbidden/,
    ],
    [
      'privileged',
      (s) => {
        s.containers![0]!.securityContext!.privileged = true
      },
      /privileged/,
    ],
    [
      'no limits',
      (s) => {
        delete s.containers![0]!.resources!.limits
      },
      /limits need/,
    ],
    [
      '/tmp not an emptyDir',
      (s) => {
        s.containers![0]!.volumeMounts = []
      },
      /\/tmp/,
    ],
    [
      'unhardened sidecar',
      (s) => {
        s.initContainers = [{ name: 'helper' }]
      },
      /container helper/,
    ],
  ]
  for (const [name, weaken, expected] of cases) {
    const spec = hardened()
    weaken(spec)
    t.match(podSecurityViolations(spec).join('\n'), expected, name)
  }
})
