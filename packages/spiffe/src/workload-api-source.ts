import { isIP } from 'node:net'
import { fileURLToPath } from 'node:url'
import {
  type ClientReadableStream,
  credentials,
  Client as GrpcClient,
  Metadata,
  type MethodDefinition,
  type ServiceDefinition,
} from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { X509Bundle, X509BundleSet } from './bundle.js'
import { SourceError } from './errors.js'
import { TrustDomain } from './id.js'
import { BaseX509Source, type SourceLogger } from './source.js'
import { X509Svid } from './svid.js'

/** A FetchX509SVID response as decoded by proto-loader (`keepCase`, bytes as Buffer). */
export interface X509SvidResponseMessage {
  svids: {
    spiffe_id: string
    x509_svid: Buffer
    x509_svid_key: Buffer
    bundle: Buffer
    hint: string
  }[]
  crl: Buffer[]
  federated_bundles: Record<string, Buffer>
}

/** proto/workload.proto, shipped with the package next to src/ and dist/. */
export const workloadApiProtoPath = fileURLToPath(
  new URL('../proto/workload.proto', import.meta.url),
)

let service: ServiceDefinition | undefined

/** The SpiffeWorkloadAPI service definition, for clients and for test agents. */
export function workloadApiService(): ServiceDefinition {
  service ??= loadSync(workloadApiProtoPath, { keepCase: true, defaults: true, arrays: true })
    .SpiffeWorkloadAPI as ServiceDefinition
  return service
}

/** The header every Workload API call must carry; agents refuse calls without it. */
export const workloadApiHeader = 'workload.spiffe.io'

/**
 * Turns a SPIFFE_ENDPOINT_SOCKET value into a gRPC target: `unix:///abs/path`,
 * `unix:/abs/path`, or `tcp://<ip>:<port>` (an IP, never a DNS name), as the
 * Workload Endpoint spec allows.
 */
export function workloadApiTarget(endpoint: string): string {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw new SourceError(`SPIFFE_ENDPOINT_SOCKET "${endpoint}" is not a URI`)
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new SourceError('SPIFFE_ENDPOINT_SOCKET must not carry a query, fragment or userinfo')
  }
  if (url.protocol === 'unix:') {
    if (url.host !== '' || !url.pathname.startsWith('/') || url.pathname === '/') {
      throw new SourceError(
        'SPIFFE_ENDPOINT_SOCKET unix: address needs an absolute path and no host',
      )
    }
    return `unix://${url.pathname}`
  }
  if (url.protocol === 'tcp:') {
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (isIP(host) === 0 || url.port === '' || (url.pathname !== '' && url.pathname !== '/')) {
      throw new SourceError('SPIFFE_ENDPOINT_SOCKET tcp: address must be tcp://<ip>:<port>')
    }
    return url.host
  }
  throw new SourceError('SPIFFE_ENDPOINT_SOCKET must use the unix: or tcp: scheme')
}

function trustDomainFromKey(key: string): TrustDomain {
  return TrustDomain.parse(key.startsWith('spiffe://') ? key.slice('spiffe://'.length) : key)
}

/** Decodes one response into the default SVID and the bundle set. */
export function parseX509SvidResponse(message: X509SvidResponseMessage): {
  svid: X509Svid
  bundles: X509BundleSet
} {
  const first = message.svids[0]
  if (first === undefined) throw new SourceError('Workload API response carries no SVID')
  const svid = X509Svid.parseDer(first.x509_svid, first.x509_svid_key)
  if (first.spiffe_id !== '' && first.spiffe_id !== svid.id.toString()) {
    throw new SourceError('Workload API spiffe_id does not match the SVID certificate')
  }
  const bundles = [X509Bundle.parseDer(svid.id.trustDomain, first.bundle)]
  for (const [key, der] of Object.entries(message.federated_bundles)) {
    const trustDomain = trustDomainFromKey(key)
    // The own trust domain's bundle comes with the SVID and wins.
    if (!trustDomain.equals(svid.id.trustDomain)) {
      bundles.push(X509Bundle.parseDer(trustDomain, der))
    }
  }
  return { svid, bundles: new X509BundleSet(bundles) }
}

export interface WorkloadApiSourceOptions {
  /** The SPIFFE_ENDPOINT_SOCKET value, e.g. unix:///spiffe-workload-api/spire-agent.sock. */
  endpoint: string
  logger?: SourceLogger
  /** First reconnect delay (default 500 ms); doubles per failure with jitter. */
  initialBackoffMs?: number
  /** Longest reconnect delay (default 30 000 ms). */
  maxBackoffMs?: number
}

/**
 * Streams X.509-SVIDs from the SPIFFE Workload API (a SPIRE agent) over its
 * socket. Every message is a rotation; a broken stream is reopened with
 * capped exponential backoff and jitter while the last good SVID stays in use.
 */
export class WorkloadApiSource extends BaseX509Source {
  readonly endpoint: string
  readonly #client: GrpcClient
  readonly #method: MethodDefinition<object, X509SvidResponseMessage>
  readonly #initialBackoffMs: number
  readonly #maxBackoffMs: number
  #call: ClientReadableStream<X509SvidResponseMessage> | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #failures = 0

  constructor(options: WorkloadApiSourceOptions) {
    super(options.logger)
    this.endpoint = options.endpoint
    this.#initialBackoffMs = options.initialBackoffMs ?? 500
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000
    this.#method = workloadApiService().FetchX509SVID as MethodDefinition<
      object,
      X509SvidResponseMessage
    >
    // Plaintext on purpose: the Workload API is a local socket and the agent
    // identifies the caller by its process attributes, not by TLS.
    this.#client = new GrpcClient(workloadApiTarget(options.endpoint), credentials.createInsecure())
    this.#connect()
  }

  override toString(): string {
    return `SPIFFE_ENDPOINT_SOCKET ${this.endpoint}`
  }

  #connect(): void {
    if (this.closed) return
    const metadata = new Metadata()
    metadata.set(workloadApiHeader, 'true')
    const call = this.#client.makeServerStreamRequest(
      this.#method.path,
      this.#method.requestSerialize,
      this.#method.responseDeserialize,
      {},
      metadata,
      {},
    )
    this.#call = call
    let ended = false
    const retry = (reason: string) => {
      if (ended || this.closed) return
      ended = true
      this.#retry(reason)
    }
    call.on('data', (message: X509SvidResponseMessage) => {
      try {
        const { svid, bundles } = parseX509SvidResponse(message)
        this.#failures = 0
        this.publish(svid, bundles)
      } catch (error) {
        this.logger.warn(
          { reason: error instanceof Error ? error.message : String(error) },
          'Workload API sent an unusable X.509-SVID; keeping the last good one',
        )
      }
    })
    call.on('error', (error: Error) => retry(error.message))
    call.on('end', () => retry('stream ended'))
  }

  #retry(reason: string): void {
    this.#failures++
    const ceiling = Math.min(
      this.#maxBackoffMs,
      this.#initialBackoffMs * 2 ** Math.min(this.#failures - 1, 20),
    )
    // Jitter keeps a node's workloads from reconnecting in lockstep after an agent restart.
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
    this.logger.warn({ reason, retryInMs: delayMs }, 'Workload API stream failed; reconnecting')
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs)
  }

  protected async shutdown(): Promise<void> {
    clearTimeout(this.#retryTimer)
    this.#call?.cancel()
    this.#client.close()
  }
}
