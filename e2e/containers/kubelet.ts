/**
 * Runs rendered pods with podman the way the kubelet runs them, as far as
 * the chart depends on it: one network namespace per pod (a podman pod on a
 * podman network, with a fixed IP), init containers one after another (a
 * native sidecar, restartPolicy Always, is started and left running), then
 * the app containers, each exactly as rendered:
 *
 * - `command` replaces the image's ENTRYPOINT, `args` its CMD, `$(VAR)`
 *   expanded from the container's environment;
 * - env and envFrom, with configMapKeyRef/configMapRef resolved from the
 *   rendered ConfigMaps and fieldRef from the pod;
 * - securityContext: runAsUser/runAsGroup (runAsNonRoot refused for uid 0),
 *   fsGroup and supplementalGroups, readOnlyRootFilesystem (without podman's
 *   extra tmpfs mounts), dropped/added capabilities, allowPrivilegeEscalation,
 *   seccomp RuntimeDefault;
 * - resources: limits as cgroup limits, requests.cpu as CPU shares;
 * - volumes: emptyDir, configMap (read-only), and whatever the node adds
 *   (CSI drivers, projected tokens) through the hooks of NodeContext;
 * - probes: httpGet from the node (this host) to the pod IP, on the named or
 *   numbered port, with the probe's period, threshold and timeout.
 *
 * Whatever the kubelet would refuse or could not start fails with the
 * reason the kubelet would give, and the container's own output.
 */
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises'
import { join, posix } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { podman, podmanOk } from './podman.js'

export interface EnvVar {
  name: string
  value?: string
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean }
    secretKeyRef?: { name: string; key: string }
    fieldRef?: { fieldPath: string }
  }
}

export interface HttpGetProbe {
  httpGet?: { path?: string; port: number | string; scheme?: string; host?: string }
  tcpSocket?: unknown
  exec?: unknown
  grpc?: unknown
  initialDelaySeconds?: number
  periodSeconds?: number
  timeoutSeconds?: number
  failureThreshold?: number
  successThreshold?: number
}

export interface SecurityContext {
  runAsUser?: number
  runAsGroup?: number
  runAsNonRoot?: boolean
  fsGroup?: number
  supplementalGroups?: number[]
  readOnlyRootFilesystem?: boolean
  allowPrivilegeEscalation?: boolean
  privileged?: boolean
  capabilities?: { drop?: string[]; add?: string[] }
  seccompProfile?: { type: string }
}

export interface VolumeMount {
  name: string
  mountPath: string
  readOnly?: boolean
  subPath?: string
}

export interface Container {
  name: string
  image: string
  imagePullPolicy?: string
  command?: string[]
  args?: string[]
  workingDir?: string
  env?: EnvVar[]
  envFrom?: { configMapRef?: { name: string; optional?: boolean }; prefix?: string }[]
  ports?: { name?: string; containerPort: number }[]
  startupProbe?: HttpGetProbe
  readinessProbe?: HttpGetProbe
  livenessProbe?: HttpGetProbe
  securityContext?: SecurityContext
  resources?: {
    limits?: { cpu?: string | number; memory?: string | number }
    requests?: { cpu?: string | number; memory?: string | number }
  }
  volumeMounts?: VolumeMount[]
  /** `Always` on an init container makes it a native sidecar. */
  restartPolicy?: string
}

export interface Volume {
  name: string
  emptyDir?: { medium?: string; sizeLimit?: string }
  configMap?: {
    name: string
    items?: { key: string; path: string }[]
    defaultMode?: number
    optional?: boolean
  }
  csi?: { driver: string; readOnly?: boolean }
  [other: string]: unknown
}

export interface PodSpec {
  serviceAccountName?: string
  automountServiceAccountToken?: boolean
  enableServiceLinks?: boolean
  terminationGracePeriodSeconds?: number
  restartPolicy?: string
  securityContext?: SecurityContext
  initContainers?: Container[]
  containers: Container[]
  volumes?: Volume[]
}

/** A pod to run: a Deployment's template (one replica) or a bare Pod such as the helm test. */
export interface PodTemplate {
  kind: 'Deployment' | 'Pod'
  /** The Deployment's or Pod's name; also the pod's hostname here. */
  name: string
  namespace: string
  labels: Record<string, string>
  annotations: Record<string, string>
  spec: PodSpec
}

/** A host directory mounted into a container. */
export interface HostMount {
  hostPath: string
  mountPath: string
  readOnly: boolean
}

/** What the node adds to a pod: the parts of EKS that are not in the chart. */
export interface NodeContext {
  /** Label on every podman object, for clean-up. */
  label: string
  /** Prefix of podman pod and container names. */
  prefix: string
  /** Where volumes live on the host. */
  stateDir: string
  configMaps: ReadonlyMap<string, Record<string, string>>
  /** Cluster DNS as /etc/hosts lines: name -> IP. */
  hosts: ReadonlyMap<string, string>
  /** Mutating webhooks (IRSA, Pod Identity): env and mounts per container. */
  mutate(pod: PodTemplate, container: Container): Promise<{ env: EnvVar[]; mounts: HostMount[] }>
  /** A CSI volume's host directory (e.g. the SPIRE agent socket of csi.spiffe.io). */
  csiVolume(pod: PodTemplate, volume: Volume): Promise<string>
  /**
   * A container whose image cannot exist here (a third-party image with no
   * registry to pull from): do its job on the host and return a note, or
   * return undefined to run it normally.
   */
  emulate(
    pod: PodTemplate,
    container: Container,
    volumes: ReadonlyMap<string, string>,
  ): Promise<string | undefined>
  /** Extra podman networks (name, ip) a pod joins besides the cluster network. */
  extraNetworks(pod: PodTemplate): { name: string; ip: string }[]
  network: string
  log(line: string): void
}

/** The kubelet's reason when a container cannot be created or started, plus its output. */
export class ContainerStartError extends Error {
  constructor(
    readonly pod: string,
    readonly container: string,
    readonly reason: string,
    detail: string,
  ) {
    super(`${pod}/${container}: ${reason}: ${detail}`)
    this.name = 'ContainerStartError'
  }
}

/** Waiting for readiness stopped because the run already failed elsewhere: a consequence, not a cause. */
export class GaveUpWaiting extends Error {
  override name = 'GaveUpWaiting'
}

/** Kubernetes quantities: CPU in cores, memory in bytes. */
export function cpuCores(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined
  const text = String(value)
  return text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text)
}

export function memoryBytes(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined
  const match = /^(\d+(?:\.\d+)?)([KMGT]i?|[kmgt])?$/.exec(String(value))
  if (!match) throw new Error(`unsupported memory quantity ${value}`)
  const units: Record<string, number> = {
    '': 1,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  }
  return Math.round(Number(match[1]) * (units[match[2] ?? ''] ?? 1))
}

/** `$(VAR)` from earlier variables, `$$(VAR)` left as `$(VAR)`, unknown names kept, as the kubelet does. */
export function expand(value: string, vars: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) =>
    whole === '$$' ? '$' : (vars.get(name ?? '') ?? whole),
  )
}

/** The container's environment as the kubelet builds it: envFrom, then env, then the webhooks' additions. */
export function resolveEnv(
  pod: PodTemplate,
  container: Container,
  configMaps: ReadonlyMap<string, Record<string, string>>,
  injected: EnvVar[],
  podIp: string,
): Map<string, string> {
  const vars = new Map<string, string>()
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef) throw new Error(`${pod.name}/${container.name}: unsupported envFrom`)
    const data = configMaps.get(`${pod.namespace}/${source.configMapRef.name}`)
    if (!data) {
      if (source.configMapRef.optional) continue
      throw new ContainerStartError(
        pod.name,
        container.name,
        'CreateContainerConfigError',
        `configmap "${source.configMapRef.name}" not found`,
      )
    }
    for (const [key, value] of Object.entries(data)) vars.set(`${source.prefix ?? ''}${key}`, value)
  }
  const fields: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'spec.serviceAccountName': pod.spec.serviceAccountName ?? 'default',
    'status.podIP': podIp,
  }
  const names = new Set((container.env ?? []).map((e) => e.name))
  for (const env of [...(container.env ?? []), ...injected.filter((e) => !names.has(e.name))]) {
    if (env.value !== undefined || !env.valueFrom) {
      vars.set(env.name, expand(env.value ?? '', vars))
      continue
    }
    const { configMapKeyRef, fieldRef, secretKeyRef } = env.valueFrom
    if (configMapKeyRef) {
      const value = configMaps.get(`${pod.namespace}/${configMapKeyRef.name}`)?.[
        configMapKeyRef.key
      ]
      if (value === undefined) {
        if (configMapKeyRef.optional) continue
        throw new ContainerStartError(
          pod.name,
          container.name,
          'CreateContainerConfigError',
          `couldn't find key ${configMapKeyRef.key} in ConfigMap ${pod.namespace}/${configMapKeyRef.name}`,
        )
      }
      vars.set(env.name, value)
    } else if (fieldRef) {
      const value = fields[fieldRef.fieldPath]
      if (value === undefined) throw new Error(`unsupported fieldRef ${fieldRef.fieldPath}`)
      vars.set(env.name, value)
    } else if (secretKeyRef) {
      throw new Error(`${pod.name}/${container.name}: secretKeyRef is not emulated here`)
    }
  }
  return vars
}

interface ImageConfig {
  User?: string
  Entrypoint?: string[] | null
  Cmd?: string[] | null
  Env?: string[]
  WorkingDir?: string
}

const imageConfigs = new Map<string, ImageConfig>()

export async function imageConfig(image: string): Promise<ImageConfig> {
  let config = imageConfigs.get(image)
  if (!config) {
    const out = await podman(['image', 'inspect', image, '--format', '{{json .Config}}'])
    if (out.status !== 0) throw new Error(`no image ${image}: ${out.stderr.trim()}`)
    config = JSON.parse(out.stdout) as ImageConfig
    imageConfigs.set(image, config)
  }
  return config
}

/**
 * What the runtime will exec: command (or the ENTRYPOINT) followed by args
 * (or, only without command, the CMD), as Kubernetes defines it.
 */
export function argv(container: Container, image: ImageConfig): string[] {
  const entrypoint = container.command ?? image.Entrypoint ?? []
  const rest = container.args ?? (container.command ? [] : (image.Cmd ?? []))
  return [...entrypoint, ...rest]
}

/** The securityContext in effect: the container's fields over the pod's. */
export function effectiveSecurity(pod: PodSpec, container: Container): SecurityContext {
  const podLevel = pod.securityContext ?? {}
  return {
    runAsUser: podLevel.runAsUser,
    runAsGroup: podLevel.runAsGroup,
    runAsNonRoot: podLevel.runAsNonRoot,
    seccompProfile: podLevel.seccompProfile,
    ...container.securityContext,
  }
}

async function probeOnce(
  ip: string,
  probe: HttpGetProbe,
  ports: ReadonlyMap<string, number>,
): Promise<string | undefined> {
  if (!probe.httpGet) return 'only httpGet probes are emulated'
  const { port, path = '/', scheme = 'HTTP', host } = probe.httpGet
  const number = typeof port === 'number' ? port : (ports.get(port) ?? Number(port))
  if (!Number.isFinite(number)) return `no container port named ${port}`
  const url = `${scheme.toLowerCase()}://${host ?? ip}:${number}${path}`
  try {
    const response = await fetch(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout((probe.timeoutSeconds ?? 1) * 1000),
    })
    await response.arrayBuffer()
    // The kubelet counts 200-399 as success.
    return response.status >= 200 && response.status < 400
      ? undefined
      : `${url} answered ${response.status}`
  } catch (error) {
    return `${url}: ${(error as Error).cause ?? (error as Error).message}`
  }
}

export interface ProbeRecord {
  container: string
  kind: 'startup' | 'readiness' | 'liveness'
  url: string
  attempts: number
  ok: boolean
}

/** One pod on the node: created, started, probed and removed through podman. */
export class PodRun {
  readonly podName: string
  /** Host directory of each volume, by name. */
  readonly volumes = new Map<string, string>()
  readonly probes: ProbeRecord[] = []
  /** Containers done by NodeContext.emulate instead of podman, with its note. */
  readonly emulated = new Map<string, string>()
  /** Exit code of each container that ran to completion (init containers, a Never pod's). */
  readonly exitCodes = new Map<string, number>()
  readonly #containers = new Map<string, string>()

  constructor(
    readonly template: PodTemplate,
    readonly ip: string,
    readonly node: NodeContext,
  ) {
    this.podName = `${node.prefix}-${template.namespace}-${template.name}`
  }

  get name(): string {
    return `${this.template.namespace}/${this.template.name}`
  }

  /** The pod sandbox: its network namespace, hostname and /etc/hosts. Started, so its IPs exist. */
  async createSandbox(): Promise<void> {
    const args = [
      'pod',
      'create',
      '--name',
      this.podName,
      '--label',
      this.node.label,
      '--hostname',
      this.template.name,
      '--network',
      `${this.node.network}:ip=${this.ip}`,
    ]
    for (const extra of this.node.extraNetworks(this.template)) {
      args.push('--network', `${extra.name}:ip=${extra.ip}`)
    }
    for (const [name, ip] of this.node.hosts) args.push('--add-host', `${name}:${ip}`)
    await podmanOk(args)
    await podmanOk(['pod', 'start', this.podName])
  }

  async #prepareVolumes(): Promise<void> {
    const spec = this.template.spec
    const fsGroup = spec.securityContext?.fsGroup
    for (const volume of spec.volumes ?? []) {
      const dir = join(this.node.stateDir, this.podName, 'volumes', volume.name)
      if (volume.emptyDir) {
        // emptyDir is world-writable; with fsGroup it belongs to that group, setgid.
        await mkdir(dir, { recursive: true })
        if (fsGroup !== undefined) await chown(dir, 0, fsGroup)
        await chmod(dir, fsGroup !== undefined ? 0o2777 : 0o777)
        this.volumes.set(volume.name, dir)
      } else if (volume.configMap) {
        const data = this.node.configMaps.get(`${this.template.namespace}/${volume.configMap.name}`)
        if (!data) {
          if (volume.configMap.optional) continue
          throw new ContainerStartError(
            this.name,
            '(volumes)',
            'FailedMount',
            `configmap "${volume.configMap.name}" not found`,
          )
        }
        await mkdir(dir, { recursive: true })
        const items = volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }))
        for (const item of items) {
          await mkdir(join(dir, item.path, '..'), { recursive: true })
          await writeFile(join(dir, item.path), data[item.key] ?? '', {
            mode: volume.configMap.defaultMode ?? 0o644,
          })
          if (fsGroup !== undefined) await chown(join(dir, item.path), 0, fsGroup)
        }
        this.volumes.set(volume.name, dir)
      } else if (volume.csi) {
        this.volumes.set(volume.name, await this.node.csiVolume(this.template, volume))
      } else {
        throw new Error(`${this.name}: volume ${volume.name} has a type not emulated here`)
      }
    }
  }

  /** Creates a container in the pod exactly as rendered; returns its podman name. */
  async #create(container: Container): Promise<string> {
    const spec = this.template.spec
    const image = await imageConfig(container.image).catch((error: unknown) => {
      throw new ContainerStartError(
        this.name,
        container.name,
        container.imagePullPolicy === 'Never' ? 'ErrImageNeverPull' : 'ErrImagePull',
        String((error as Error).message),
      )
    })
    const security = effectiveSecurity(spec, container)
    const [imageUser, imageGroup] = (image.User ?? '').split(':')
    const uid = security.runAsUser ?? (imageUser ? Number(imageUser) : 0)
    const gid = security.runAsGroup ?? (imageGroup ? Number(imageGroup) : 0)
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
      throw new ContainerStartError(
        this.name,
        container.name,
        'CreateContainerConfigError',
        `image has non-numeric user (${image.User}), cannot verify user is non-root`,
      )
    }
    if (security.runAsNonRoot && uid === 0) {
      throw new ContainerStartError(
        this.name,
        container.name,
        'CreateContainerConfigError',
        'container has runAsNonRoot and image will run as root',
      )
    }
    const name = `${this.podName}-${container.name}`
    const args = ['create', '--pod', this.podName, '--name', name, '--label', this.node.label]
    args.push('--pull=never', '--user', `${uid}:${gid}`)
    for (const group of [
      spec.securityContext?.fsGroup,
      ...(spec.securityContext?.supplementalGroups ?? []),
    ]) {
      if (group !== undefined) args.push('--group-add', String(group))
    }
    if (security.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false')
    if (security.privileged) args.push('--privileged')
    if (security.allowPrivilegeEscalation === false)
      args.push('--security-opt', 'no-new-privileges')
    for (const cap of security.capabilities?.drop ?? []) args.push('--cap-drop', cap)
    for (const cap of security.capabilities?.add ?? []) args.push('--cap-add', cap)
    const seccomp = security.seccompProfile?.type
    if (seccomp === 'Unconfined') args.push('--security-opt', 'seccomp=unconfined')
    else if (seccomp && seccomp !== 'RuntimeDefault') {
      throw new Error(`${this.name}/${container.name}: seccomp ${seccomp} is not emulated`)
    }
    const limits = container.resources?.limits
    const memory = memoryBytes(limits?.memory)
    if (memory !== undefined) args.push('--memory', String(memory))
    const cpus = cpuCores(limits?.cpu)
    if (cpus !== undefined) args.push('--cpus', String(cpus))
    const requestCpu = cpuCores(container.resources?.requests?.cpu)
    if (requestCpu !== undefined) {
      args.push('--cpu-shares', String(Math.max(2, Math.round(requestCpu * 1024))))
    }
    if (spec.terminationGracePeriodSeconds !== undefined) {
      args.push('--stop-timeout', String(spec.terminationGracePeriodSeconds))
    }
    const mutation = await this.node.mutate(this.template, container)
    const env = resolveEnv(this.template, container, this.node.configMaps, mutation.env, this.ip)
    // Always there in a pod, whatever enableServiceLinks says.
    env.set('KUBERNETES_SERVICE_HOST', env.get('KUBERNETES_SERVICE_HOST') ?? '10.100.0.1')
    env.set('KUBERNETES_SERVICE_PORT', env.get('KUBERNETES_SERVICE_PORT') ?? '443')
    for (const [key, value] of env) args.push('--env', `${key}=${value}`)
    for (const mount of container.volumeMounts ?? []) {
      if (mount.subPath) throw new Error(`${this.name}/${container.name}: subPath is not emulated`)
      const hostPath = this.volumes.get(mount.name)
      if (!hostPath) {
        throw new ContainerStartError(
          this.name,
          container.name,
          'CreateContainerConfigError',
          `no volume ${mount.name} in the pod`,
        )
      }
      const volume = spec.volumes?.find((v) => v.name === mount.name)
      // configMap volumes are always read-only; so is a read-only CSI volume.
      const readOnly =
        mount.readOnly || volume?.configMap !== undefined || volume?.csi?.readOnly === true
      args.push('--volume', `${hostPath}:${mount.mountPath}:${readOnly ? 'ro' : 'rw'}`)
    }
    for (const mount of mutation.mounts) {
      args.push('--volume', `${mount.hostPath}:${mount.mountPath}:${mount.readOnly ? 'ro' : 'rw'}`)
    }
    if (container.workingDir) args.push('--workdir', container.workingDir)
    if (container.command) {
      args.push('--entrypoint', JSON.stringify(container.command.map((a) => expand(a, env))))
    }
    args.push(container.image)
    // args replaces CMD; with command and no args, podman drops CMD as Kubernetes does.
    for (const arg of container.args ?? []) args.push(expand(arg, env))
    const created = await podman(args)
    if (created.status !== 0) {
      throw new ContainerStartError(
        this.name,
        container.name,
        'CreateContainerError',
        created.stderr.trim(),
      )
    }
    this.#containers.set(container.name, name)
    return name
  }

  /** Starts a created container; a runtime that cannot exec is the kubelet's StartError/RunContainerError. */
  async #start(container: Container, name: string): Promise<void> {
    const started = await podman(['start', name])
    if (started.status !== 0) {
      const image = await imageConfig(container.image)
      const exec = argv(container, image)
      const detail = started.stderr.trim().replace(/^Error: /, '')
      const hint =
        container.command && /executable file not found|no such file or directory/.test(detail)
          ? ` — the rendered command ${JSON.stringify(container.command)} replaces the image's ENTRYPOINT ${JSON.stringify(image.Entrypoint)}; to keep it, render args instead`
          : ''
      throw new ContainerStartError(
        this.name,
        container.name,
        'RunContainerError',
        `cannot exec ${JSON.stringify(exec)} in ${container.image}: ${detail}${hint}`,
      )
    }
  }

  async logs(container: string, tail = 40): Promise<string> {
    const name = this.#containers.get(container)
    if (!name) return ''
    const out = await podman(['logs', '--tail', String(tail), name])
    return `${out.stdout}${out.stderr}`.trim()
  }

  async #running(name: string): Promise<{ running: boolean; exitCode: number }> {
    const out = await podman([
      'inspect',
      name,
      '--format',
      '{{.State.Running}} {{.State.ExitCode}}',
    ])
    const [running, code] = out.stdout.trim().split(' ')
    return { running: running === 'true', exitCode: Number(code) }
  }

  /** Waits for a container to exit; its exit code. */
  async #wait(name: string, timeoutMs: number): Promise<number> {
    const out = await podman(['wait', name], { timeoutMs })
    if (out.status !== 0) throw new Error(`podman wait ${name}: ${out.stderr}`)
    return Number(out.stdout.trim())
  }

  /** Init containers in order, then the app containers; returns once all have started. */
  async start(timeouts: { initMs: number }): Promise<void> {
    await this.#prepareVolumes()
    for (const container of this.template.spec.initContainers ?? []) {
      const note = await this.node.emulate(this.template, container, this.volumes)
      if (note !== undefined) {
        this.emulated.set(container.name, note)
        this.node.log(`${this.name}: init ${container.name} emulated: ${note}`)
        continue
      }
      const name = await this.#create(container)
      await this.#start(container, name)
      if (container.restartPolicy === 'Always') {
        this.node.log(`${this.name}: sidecar ${container.name} started`)
        continue
      }
      const code = await this.#wait(name, timeouts.initMs)
      this.exitCodes.set(container.name, code)
      if (code !== 0) {
        throw new ContainerStartError(
          this.name,
          container.name,
          'Init:Error',
          `exited ${code}\n${await this.logs(container.name)}`,
        )
      }
      this.node.log(`${this.name}: init ${container.name} completed`)
    }
    for (const container of this.template.spec.containers) {
      const note = await this.node.emulate(this.template, container, this.volumes)
      if (note !== undefined) {
        this.emulated.set(container.name, note)
        continue
      }
      const name = await this.#create(container)
      await this.#start(container, name)
      this.node.log(`${this.name}: ${container.name} started`)
    }
  }

  /** For a pod that runs to completion (restartPolicy Never): every container's exit code. */
  async waitCompleted(timeoutMs: number): Promise<Map<string, number>> {
    for (const container of this.template.spec.containers) {
      const name = this.#containers.get(container.name)
      if (!name) continue
      this.exitCodes.set(container.name, await this.#wait(name, timeoutMs))
    }
    return this.exitCodes
  }

  /**
   * Startup probe until it passes (failureThreshold × periodSeconds, then the
   * kubelet would restart the container: a failure here), then readiness
   * until it passes within `readyMs`, then one liveness check.
   */
  async waitReady(
    readyMs: number,
    giveUp: () => string | undefined = () => undefined,
  ): Promise<void> {
    for (const container of this.template.spec.containers) {
      const name = this.#containers.get(container.name)
      if (!name) continue
      const ports = new Map(
        (container.ports ?? []).flatMap((p) =>
          p.name ? [[p.name, p.containerPort] as const] : [],
        ),
      )
      const check = async (
        kind: ProbeRecord['kind'],
        probe: HttpGetProbe | undefined,
        maxAttempts: number,
      ) => {
        if (!probe) return
        await sleep((probe.initialDelaySeconds ?? 0) * 1000)
        let attempts = 0
        let failure: string | undefined
        for (;;) {
          attempts++
          const state = await this.#running(name)
          if (!state.running) {
            throw new ContainerStartError(
              this.name,
              container.name,
              'CrashLoopBackOff',
              `exited ${state.exitCode} before its ${kind} probe passed\n${await this.logs(container.name)}`,
            )
          }
          failure = await probeOnce(this.ip, probe, ports)
          if (failure === undefined || attempts >= maxAttempts) break
          const reason = giveUp()
          if (reason !== undefined)
            throw new GaveUpWaiting(`${this.name}: not ready, stopped waiting: ${reason}`)
          await sleep((probe.periodSeconds ?? 10) * 1000)
        }
        const url = `${probe.httpGet?.path ?? ''} on ${String(probe.httpGet?.port)}`
        this.probes.push({
          container: container.name,
          kind,
          url,
          attempts,
          ok: failure === undefined,
        })
        if (failure !== undefined) {
          throw new ContainerStartError(
            this.name,
            container.name,
            kind === 'readiness' ? 'NotReady' : 'Unhealthy',
            `${kind} probe failed ${attempts} times (last: ${failure})\n${await this.logs(container.name)}`,
          )
        }
      }
      const startup = container.startupProbe
      await check('startup', startup, startup?.failureThreshold ?? 3)
      const readiness = container.readinessProbe
      const period = readiness?.periodSeconds ?? 10
      await check('readiness', readiness, Math.max(1, Math.ceil(readyMs / (period * 1000))))
      await check('liveness', container.livenessProbe, 1)
    }
  }

  /** Runs one more container in this pod's network namespace (for checks from inside the pod). */
  async exec(container: Container, timeoutMs: number): Promise<{ code: number; output: string }> {
    const name = await this.#create(container)
    await this.#start(container, name)
    const code = await this.#wait(name, timeoutMs)
    return { code, output: await this.logs(container.name, 200) }
  }
}

/** Removes every podman object carrying the label (pods and their containers). */
export async function removeLabelled(label: string): Promise<void> {
  const pods = await podman(['pod', 'ps', '-q', '--filter', `label=${label}`])
  for (const id of pods.stdout.split('\n').filter(Boolean)) {
    await podman(['pod', 'rm', '-f', '-t', '2', id], { timeoutMs: 60_000 })
  }
  const containers = await podman(['ps', '-aq', '--filter', `label=${label}`])
  for (const id of containers.stdout.split('\n').filter(Boolean)) {
    await podman(['rm', '-f', '-t', '2', id], { timeoutMs: 60_000 })
  }
}

const imageMounts = new Map<string, string>()

/**
 * Whether the runtime can exec what the container names, decided from the
 * image's files before anything runs: a file path must exist and be
 * executable; a bare name is looked up on the container's PATH (the image's
 * unless the container sets one), as runc does; and when that is node, the
 * script it is given must be in the image too. Undefined when all is there.
 */
export async function execProblem(
  container: Container,
  pathEnv?: string,
): Promise<string | undefined> {
  const image = await imageConfig(container.image)
  const [file] = argv(container, image)
  if (!file) return 'nothing to exec: no command and no ENTRYPOINT or CMD'
  let root = imageMounts.get(container.image)
  if (!root) {
    root = (await podmanOk(['image', 'mount', container.image])).trim()
    imageMounts.set(container.image, root)
  }
  const path =
    pathEnv ??
    image.Env?.find((e) => e.startsWith('PATH='))?.slice(5) ??
    '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  const workdir = container.workingDir ?? image.WorkingDir ?? '/'
  const candidates = file.includes('/')
    ? [file.startsWith('/') ? file : join(workdir, file)]
    : path.split(':').map((dir) => join(dir, file))
  for (const candidate of candidates) {
    const info = await stat(join(root, candidate)).catch(() => undefined)
    if (info?.isFile() && info.mode & 0o111) {
      // node would start, then fail to find its script: the same outcome.
      const script = posix.basename(candidate) === 'node' ? argv(container, image)[1] : undefined
      if (script && !script.startsWith('-') && /\.[cm]?js$/.test(script)) {
        const path = script.startsWith('/') ? script : join(workdir, script)
        if (!(await stat(join(root, path)).catch(() => undefined))?.isFile()) {
          return `node's script ${script} is not in ${container.image} (looked for ${path})`
        }
      }
      return undefined
    }
  }
  return file.includes('/')
    ? `exec: "${file}": no such file or directory in ${container.image}`
    : `exec: "${file}": executable file not found in $PATH (${path}) of ${container.image}`
}

export async function unmountImages(): Promise<void> {
  for (const image of imageMounts.keys()) await podman(['image', 'unmount', image])
  imageMounts.clear()
}
