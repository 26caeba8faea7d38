/**
 * The EKS node around the pods, emulated on this host for the container
 * suite: what the chart relies on but does not contain.
 *
 * - Networking: one podman network for the cluster (pods get fixed IPs;
 *   Service names resolve to the pod behind them through /etc/hosts), plus,
 *   with EKS Pod Identity, a link-local network whose gateway is the agent's
 *   address 169.254.170.23. No NetworkPolicy is enforced.
 * - AWS: devkit's local STS + Secrets Manager, fauxqs for SQS, and with Pod
 *   Identity devkit's agent, all reached from the pods through the SDK's own
 *   AWS_ENDPOINT_URL_* variables (the one addition to the rendered env that
 *   is not EKS's), and the webhooks' env and projected tokens (IRSA: the
 *   ServiceAccount's role-arn annotation; Pod Identity: an association per
 *   ServiceAccount, as infra creates them).
 * - The database: the machine's PostgreSQL behind a TLS front that speaks
 *   PostgreSQL's SSLRequest and presents a certificate for the chart's
 *   db.host from a local CA (given to the chart as db.caBundle), so the
 *   services' verify-full runs for real. Plaintext logins are refused, as
 *   with rds.force_ssl.
 * - SPIFFE: a SPIRE agent stand-in (the dev CA's Workload API) per pod,
 *   whose socket directory is the csi.spiffe.io volume; SVIDs carry the ID
 *   the chart's ClusterSPIFFEIDs give the pod. spiffe-helper's image cannot
 *   be pulled here: its container is emulated by writing the files it would
 *   write, where its rendered config says, after checking that config
 *   against the pod.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { chown, mkdir, writeFile } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { join, posix } from 'node:path'
import { createSecureContext, TLSSocket } from 'node:tls'
import type { IssuedCredentials } from '@zt/devkit'
import { DevAgent, devAgentResponse } from '@zt/spiffe/dev-agent'
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type MintedSvid,
  mintSvid,
  writeSvidFiles,
} from '@zt/spiffe/dev-ca'
import type { Container, EnvVar, HostMount, PodTemplate, Volume } from './kubelet.js'
import { podman, podmanOk } from './podman.js'

export const POD_IDENTITY_ADDRESS = '169.254.170.23'
export const SPIRE_AGENT_SOCKET = 'spire-agent.sock'

/** IPv4 helpers for a /24. */
export function addressIn(subnet: string, host: number): string {
  const [base] = subnet.split('/')
  const octets = (base ?? '').split('.')
  return [...octets.slice(0, 3), String(host)].join('.')
}

export async function createNetwork(
  name: string,
  subnet: string,
  gateway: string,
  label: string,
): Promise<void> {
  await podman(['network', 'rm', '-f', name])
  await podmanOk([
    'network',
    'create',
    '--subnet',
    subnet,
    '--gateway',
    gateway,
    '--label',
    label,
    '--disable-dns',
    name,
  ])
}

/** A fake but well-formed projected service account token (STS here checks no signature). */
export function serviceAccountToken(namespace: string, serviceAccount: string, audience: string) {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return [
    part({ alg: 'RS256', kid: 'zt-local' }),
    part({
      iss: 'https://oidc.eks.local/id/ZTLOCAL',
      sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
      aud: [audience],
      iat: now,
      exp: now + 86400,
    }),
    randomBytes(32).toString('base64url'),
  ].join('.')
}

export interface PostgresTlsFront {
  /** TLS sessions accepted and relayed to PostgreSQL. */
  readonly stats: { tls: number; refusedPlaintext: number }
  close(): Promise<void>
}

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104

/** A PostgreSQL ErrorResponse, for refusing a plaintext startup as an RDS with rds.force_ssl does. */
function errorResponse(message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C28000\0M${message}\0\0`)
  const header = Buffer.alloc(5)
  header.write('E', 0)
  header.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([header, fields])
}

/**
 * Listens on `host:port`, answers PostgreSQL's SSLRequest with 'S', does the
 * TLS handshake with `certificate`, and relays the session in plain text to
 * the upstream server. A client that does not ask for TLS is refused.
 */
export async function startPostgresTlsFront(options: {
  host: string
  port: number
  upstream: { host: string; port: number }
  certificate: MintedSvid
}): Promise<PostgresTlsFront> {
  const secureContext = createSecureContext({
    cert: options.certificate.certificatesPem,
    key: options.certificate.keyPem,
  })
  const stats = { tls: 0, refusedPlaintext: 0 }
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let buffered = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 8) {
        const code = buffered.readInt32BE(4)
        if (code === GSSENC_REQUEST) {
          buffered = buffered.subarray(8)
          socket.write('N')
          continue
        }
        socket.off('data', onData)
        socket.pause()
        if (code !== SSL_REQUEST) {
          stats.refusedPlaintext++
          socket.end(errorResponse('no pg_hba.conf entry: connection requires SSL (rds.force_ssl)'))
          return
        }
        const rest = buffered.subarray(8)
        if (rest.length > 0) socket.unshift(rest)
        socket.write('S')
        const tls = new TLSSocket(socket, { isServer: true, secureContext })
        tls.on('secure', () => {
          stats.tls++
          const upstream = connect(options.upstream.port, options.upstream.host)
          sockets.add(upstream)
          upstream.on('close', () => sockets.delete(upstream))
          const end = () => {
            tls.destroy()
            upstream.destroy()
          }
          upstream.on('error', end)
          tls.on('error', end)
          tls.on('close', end)
          upstream.on('close', end)
          tls.pipe(upstream).pipe(tls)
        })
        tls.on('error', () => socket.destroy())
        socket.resume()
        return
      }
    }
    socket.on('data', onData)
  })
  server.listen(options.port, options.host)
  await once(server, 'listening')
  return {
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** matchLabels (and the equality-based matchExpressions) against labels. */
export function selects(
  selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true
  if ((selector.matchExpressions ?? []).length > 0) {
    throw new Error('matchExpressions in a ClusterSPIFFEID selector are not emulated')
  }
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
}

export interface ClusterSpiffeId {
  metadata: { name: string }
  spec: {
    spiffeIDTemplate: string
    podSelector?: { matchLabels?: Record<string, string> }
    namespaceSelector?: { matchLabels?: Record<string, string> }
  }
}

/**
 * The SPIFFE ID spire-controller-manager registers for a pod: the first
 * ClusterSPIFFEID whose selectors match, its template filled in. Undefined
 * when none does (SPIRE would issue the pod nothing).
 */
export function spiffeIdFor(
  pod: PodTemplate,
  namespaceLabels: Record<string, string>,
  ids: readonly ClusterSpiffeId[],
  trustDomain: string,
): string | undefined {
  const match = ids.find(
    (id) =>
      selects(id.spec.podSelector, pod.labels) &&
      selects(id.spec.namespaceSelector, namespaceLabels),
  )
  if (!match) return undefined
  return match.spec.spiffeIDTemplate
    .replace(/\{\{\s*\.TrustDomain\s*\}\}/g, trustDomain)
    .replace(/\{\{\s*\.PodMeta\.Namespace\s*\}\}/g, pod.namespace)
    .replace(/\{\{\s*\.PodMeta\.Name\s*\}\}/g, pod.name)
    .replace(
      /\{\{\s*\.PodSpec\.ServiceAccountName\s*\}\}/g,
      pod.spec.serviceAccountName ?? 'default',
    )
}

/** spiffe-helper's HCL-ish config: `key = "value"` / `key = true` lines. */
export function parseHelperConf(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const match = /^\s*([a-z_]+)\s*=\s*"?([^"]*?)"?\s*$/.exec(line)
    if (match?.[1]) out[match[1]] = match[2] ?? ''
  }
  return out
}

export interface SpiffeNode {
  readonly ca: CertificateAuthority
  /** The SVID each pod was issued, by pod name. */
  readonly issued: Map<string, { id: string; svid: MintedSvid }>
  /** The pod's csi.spiffe.io volume: a directory with the agent socket. */
  csiVolume(pod: PodTemplate, dir: string): Promise<string>
  /** spiffe-helper, emulated: checks its rendered config and writes what it would write. */
  emulateHelper(
    pod: PodTemplate,
    container: Container,
    volumes: ReadonlyMap<string, string>,
    configMaps: ReadonlyMap<string, Record<string, string>>,
  ): Promise<string>
  stop(): Promise<void>
}

export async function startSpiffeNode(options: {
  trustDomain: string
  ids: readonly ClusterSpiffeId[]
  namespaceLabels: (namespace: string) => Record<string, string>
}): Promise<SpiffeNode> {
  const ca = await createCertificateAuthority({ trustDomain: options.trustDomain })
  const issued = new Map<string, { id: string; svid: MintedSvid }>()
  const agents: DevAgent[] = []
  const issue = async (pod: PodTemplate) => {
    const existing = issued.get(pod.name)
    if (existing) return existing
    const id = spiffeIdFor(
      pod,
      options.namespaceLabels(pod.namespace),
      options.ids,
      options.trustDomain,
    )
    if (!id) {
      throw new Error(
        `${pod.namespace}/${pod.name} mounts csi.spiffe.io but no ClusterSPIFFEID selects it: SPIRE would issue it no SVID`,
      )
    }
    const entry = { id, svid: await mintSvid(ca, { id, ttlMs: 3600_000 }) }
    issued.set(pod.name, entry)
    return entry
  }
  return {
    ca,
    issued,
    async csiVolume(pod, dir) {
      const { svid } = await issue(pod)
      await mkdir(dir, { recursive: true, mode: 0o755 })
      // The agent's socket is world-connectable, as SPIRE's is; the agent
      // decides by attestation (here: one agent per pod) what to hand out.
      const agent = new DevAgent(dir, devAgentResponse(svid, [ca]), {
        socketName: SPIRE_AGENT_SOCKET,
        socketMode: 0o777,
      })
      await agent.start()
      agents.push(agent)
      return dir
    },
    async emulateHelper(pod, container, volumes, configMaps) {
      const where = `${pod.namespace}/${pod.name}/${container.name}`
      const flag = container.args?.indexOf('-config') ?? -1
      const configPath = flag >= 0 ? container.args?.[flag + 1] : undefined
      if (!configPath) throw new Error(`${where}: no -config argument`)
      const mounts = container.volumeMounts ?? []
      const volumeAt = (path: string) =>
        mounts.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
      const specVolume = (name: string): Volume | undefined =>
        pod.spec.volumes?.find((v) => v.name === name)
      const configMount = volumeAt(configPath)
      const configMap = configMount && specVolume(configMount.name)?.configMap
      if (!configMount || !configMap)
        throw new Error(`${where}: ${configPath} is on no ConfigMap volume`)
      const text = configMaps.get(`${pod.namespace}/${configMap.name}`)?.[
        posix.basename(configPath)
      ]
      if (!text)
        throw new Error(
          `${where}: ConfigMap ${configMap.name} has no ${posix.basename(configPath)}`,
        )
      const conf = parseHelperConf(text)
      const agentAddress = conf.agent_address ?? ''
      const agentMount = volumeAt(agentAddress)
      if (!agentMount || specVolume(agentMount.name)?.csi?.driver !== 'csi.spiffe.io') {
        throw new Error(
          `${where}: agent_address ${agentAddress} is not on the csi.spiffe.io volume`,
        )
      }
      const agentHost = volumes.get(agentMount.name) ?? ''
      if (!existsSync(join(agentHost, posix.relative(agentMount.mountPath, agentAddress)))) {
        throw new Error(
          `${where}: no agent socket at ${agentAddress} (the agent serves ${SPIRE_AGENT_SOCKET})`,
        )
      }
      const certDir = conf.cert_dir ?? ''
      const certMount = mounts.find((m) => m.mountPath === certDir)
      if (!certMount || certMount.readOnly || !specVolume(certMount.name)?.emptyDir) {
        throw new Error(`${where}: cert_dir ${certDir} is not a writable emptyDir mount`)
      }
      const names = {
        svid: conf.svid_file_name ?? '',
        key: conf.svid_key_file_name ?? '',
        bundle: conf.svid_bundle_file_name ?? '',
      }
      if (
        names.svid !== 'svid.pem' ||
        names.key !== 'svid_key.pem' ||
        names.bundle !== 'bundle.pem'
      ) {
        throw new Error(
          `${where}: file names ${JSON.stringify(names)} are not the ones the services read`,
        )
      }
      const { id, svid } = await issue(pod)
      const dir = volumes.get(certMount.name) ?? ''
      await writeSvidFiles(dir, svid, ca.certificatePem)
      // spiffe-helper runs as the pod's user, so its files are that user's.
      const uid = container.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser ?? 0
      const gid = container.securityContext?.runAsGroup ?? pod.spec.securityContext?.runAsGroup ?? 0
      for (const file of Object.values(names)) await chown(join(dir, file), uid, gid)
      return `image ${container.image} cannot be pulled here; wrote ${id}'s svid.pem, svid_key.pem and bundle.pem to ${certDir} as ${uid}:${gid}, as its config says`
    },
    async stop() {
      for (const agent of agents) await agent.stop()
    },
  }
}

export interface AwsIdentity {
  /** IRSA's role ARN or the Pod Identity association's, by ServiceAccount `ns/name`. */
  roles: Map<string, string>
  /** The credentials each identity's path hands out, by ServiceAccount. */
  credentials: Map<string, IssuedCredentials>
}

/** The env and mounts a webhook adds to every container (init containers too) of an AWS pod. */
export async function webhookMutation(options: {
  identity: 'irsa' | 'podIdentity'
  pod: PodTemplate
  serviceAccountAnnotations: Record<string, string> | undefined
  podIdentityRole: string | undefined
  region: string
  stateDir: string
  /** Pod Identity: registers the pod's token with the agent. */
  registerToken: (token: string, serviceAccount: string, roleArn: string) => void
}): Promise<{ env: EnvVar[]; mounts: HostMount[] }> {
  const { pod } = options
  const sa = pod.spec.serviceAccountName ?? 'default'
  if (options.identity === 'irsa') {
    const role = options.serviceAccountAnnotations?.['eks.amazonaws.com/role-arn']
    if (!role) return { env: [], mounts: [] }
    const dir = join(options.stateDir, 'irsa')
    const file = join(dir, 'token')
    if (!existsSync(file)) {
      await mkdir(dir, { recursive: true, mode: 0o755 })
      await writeFile(file, serviceAccountToken(pod.namespace, sa, 'sts.amazonaws.com'), {
        mode: 0o644,
      })
    }
    const env: EnvVar[] = [
      { name: 'AWS_ROLE_ARN', value: role },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
      { name: 'AWS_DEFAULT_REGION', value: options.region },
      { name: 'AWS_REGION', value: options.region },
    ]
    if (
      options.serviceAccountAnnotations?.['eks.amazonaws.com/sts-regional-endpoints'] === 'true'
    ) {
      env.push({ name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' })
    }
    return {
      env,
      mounts: [
        {
          hostPath: dir,
          mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
          readOnly: true,
        },
      ],
    }
  }
  const role = options.podIdentityRole
  if (!role) return { env: [], mounts: [] }
  const dir = join(options.stateDir, 'pod-identity')
  const file = join(dir, 'eks-pod-identity-token')
  if (!existsSync(file)) {
    await mkdir(dir, { recursive: true, mode: 0o755 })
    const token = serviceAccountToken(pod.namespace, sa, 'pods.eks.amazonaws.com')
    await writeFile(file, token, { mode: 0o644 })
    options.registerToken(token, `${pod.namespace}/${sa}`, role)
  }
  return {
    env: [
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
      {
        name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
        value: `http://${POD_IDENTITY_ADDRESS}/v1/credentials`,
      },
      {
        name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
        value: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
      },
    ],
    mounts: [
      {
        hostPath: dir,
        mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
        readOnly: true,
      },
    ],
  }
}
