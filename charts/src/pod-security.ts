/**
 * The pod hardening every workload of the chart must have: Pod Security
 * Standards "restricted" plus this project's rules (read-only root
 * filesystem, requests and limits, no API token). Returns the violations,
 * so a test can show both a clean chart and a caught regression.
 */

interface SecurityContext {
  runAsNonRoot?: boolean
  runAsUser?: number
  runAsGroup?: number
  allowPrivilegeEscalation?: boolean
  privileged?: boolean
  readOnlyRootFilesystem?: boolean
  capabilities?: { add?: string[]; drop?: string[] }
  seccompProfile?: { type?: string }
}

interface Container {
  name: string
  securityContext?: SecurityContext
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> }
  volumeMounts?: { name: string; mountPath: string }[]
  ports?: { name?: string; containerPort: number; hostPort?: number }[]
}

export interface PodSpec {
  securityContext?: SecurityContext
  automountServiceAccountToken?: boolean
  hostNetwork?: boolean
  hostPID?: boolean
  hostIPC?: boolean
  containers?: Container[]
  initContainers?: Container[]
  volumes?: Record<string, unknown>[]
}

/** Volume types Pod Security "restricted" admits. */
const restrictedVolumeTypes = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
])

export function podSecurityViolations(spec: PodSpec): string[] {
  const problems: string[] = []
  const pod = spec.securityContext ?? {}
  if (pod.runAsNonRoot !== true) problems.push('pod: runAsNonRoot must be true')
  if (!(Number.isInteger(pod.runAsUser) && (pod.runAsUser ?? 0) > 0))
    problems.push('pod: runAsUser must be a non-zero number')
  if (!(Number.isInteger(pod.runAsGroup) && (pod.runAsGroup ?? 0) > 0))
    problems.push('pod: runAsGroup must be a non-zero number')
  if (pod.seccompProfile?.type !== 'RuntimeDefault')
    problems.push('pod: seccompProfile must be RuntimeDefault')
  if (spec.automountServiceAccountToken !== false)
    problems.push('pod: automountServiceAccountToken must be false')
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC)
    problems.push('pod: host namespaces are forbidden')
  const emptyDirs = new Set<string>()
  for (const volume of spec.volumes ?? []) {
    const type = Object.keys(volume).find((key) => key !== 'name')
    if (type === undefined || !restrictedVolumeTypes.has(type))
      problems.push(`volume ${String(volume.name)}: type ${type} is not allowed`)
    if (type === 'emptyDir') emptyDirs.add(String(volume.name))
  }
  for (const container of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const where = `container ${container.name}`
    const context = container.securityContext ?? {}
    if (context.allowPrivilegeEscalation !== false)
      problems.push(`${where}: allowPrivilegeEscalation must be false`)
    if (context.privileged === true) problems.push(`${where}: privileged`)
    if (context.readOnlyRootFilesystem !== true)
      problems.push(`${where}: readOnlyRootFilesystem must be true`)
    if (!context.capabilities?.drop?.includes('ALL'))
      problems.push(`${where}: capabilities must drop ALL`)
    if ((context.capabilities?.add ?? []).length > 0)
      problems.push(`${where}: capabilities.add is forbidden`)
    if (context.seccompProfile !== undefined && context.seccompProfile.type !== 'RuntimeDefault') {
      problems.push(`${where}: seccompProfile must be RuntimeDefault`)
    }
    if (context.runAsNonRoot === false || context.runAsUser === 0)
      problems.push(`${where}: runs as root`)
    for (const kind of ['requests', 'limits'] as const) {
      const values = container.resources?.[kind]
      if (values?.cpu === undefined || values.memory === undefined)
        problems.push(`${where}: ${kind} need cpu and memory`)
    }
    if ((container.ports ?? []).some((port) => port.hostPort !== undefined))
      problems.push(`${where}: hostPort`)
    const tmp = (container.volumeMounts ?? []).find((mount) => mount.mountPath === '/tmp')
    const isApp = (spec.containers ?? []).includes(container)
    if (isApp && !(tmp && emptyDirs.has(tmp.name)))
      problems.push(`${where}: /tmp must be an emptyDir`)
  }
  return problems
}
