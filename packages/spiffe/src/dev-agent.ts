import { createPrivateKey } from 'node:crypto'
import { chmod, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Server, ServerCredentials, type ServerWritableStream, status } from '@grpc/grpc-js'
import type { CertificateAuthority, MintedSvid } from './dev-ca.js'
import {
  workloadApiHeader,
  workloadApiService,
  type X509SvidResponseMessage,
} from './workload-api-source.js'

/**
 * A SPIRE agent stand-in for development and tests: a real gRPC server on a
 * Unix socket serving the Workload API's FetchX509SVID stream with SVIDs from
 * the dev CA. Not for production: it attests nothing and hands every caller
 * the SVID it was given.
 */

type Call = ServerWritableStream<object, X509SvidResponseMessage>

/** The FetchX509SVID message carrying one SVID and the trust bundle of `authorities`. */
export function devAgentResponse(
  svid: MintedSvid,
  authorities: readonly CertificateAuthority[],
  federated: Record<string, readonly CertificateAuthority[]> = {},
): X509SvidResponseMessage {
  const der = (list: readonly CertificateAuthority[]) =>
    Buffer.concat(list.map((a) => a.certificate.raw))
  const leafUri = (svid.certificates[0]?.subjectAltName ?? '').replace(/^URI:/, '')
  return {
    svids: [
      {
        spiffe_id: leafUri,
        x509_svid: Buffer.concat(svid.certificates.map((c) => c.raw)),
        x509_svid_key: createPrivateKey(svid.keyPem).export({ format: 'der', type: 'pkcs8' }),
        bundle: der(authorities),
        hint: '',
      },
    ],
    crl: [],
    federated_bundles: Object.fromEntries(Object.entries(federated).map(([k, v]) => [k, der(v)])),
  }
}

/**
 * Refuses calls without the security header as the real agent does, and
 * pushes a message to every open stream on push().
 */
export class DevAgent {
  readonly socketPath: string
  readonly headers: string[] = []
  #server: Server | undefined
  #calls = new Set<Call>()
  #current: X509SvidResponseMessage
  readonly #socketMode: number | undefined

  /**
   * `socketMode`: chmod the socket after binding, e.g. 0o777 so a workload
   * running as another user can connect, as SPIRE's agent socket allows.
   */
  constructor(
    dir: string,
    initial: X509SvidResponseMessage,
    options: { socketName?: string; socketMode?: number } = {},
  ) {
    this.socketPath = join(dir, options.socketName ?? 'agent.sock')
    this.#current = initial
    this.#socketMode = options.socketMode
  }

  get endpoint(): string {
    return `unix://${this.socketPath}`
  }

  get openStreams(): number {
    return this.#calls.size
  }

  async start(): Promise<void> {
    await rm(this.socketPath, { force: true })
    const server = new Server()
    server.addService(workloadApiService(), {
      FetchX509SVID: (call: Call) => {
        const header = call.metadata.get(workloadApiHeader)[0]
        this.headers.push(String(header))
        if (header !== 'true') {
          call.emit('error', {
            code: status.INVALID_ARGUMENT,
            details: 'security header missing from request',
          })
          return
        }
        this.#calls.add(call)
        call.on('cancelled', () => this.#calls.delete(call))
        call.write(this.#current)
      },
    })
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${this.socketPath}`, ServerCredentials.createInsecure(), (error) =>
        error ? reject(error) : resolve(),
      ),
    )
    this.#server = server
    if (this.#socketMode !== undefined) await chmod(this.socketPath, this.#socketMode)
  }

  push(message: X509SvidResponseMessage): void {
    this.#current = message
    for (const call of this.#calls) call.write(message)
  }

  /** Ends every stream with UNAVAILABLE, as an agent going away does. */
  breakStreams(): void {
    for (const call of this.#calls) {
      call.emit('error', { code: status.UNAVAILABLE, details: 'agent restarting' })
    }
    this.#calls.clear()
  }

  async stop(): Promise<void> {
    this.#calls.clear()
    this.#server?.forceShutdown()
    this.#server = undefined
  }
}
