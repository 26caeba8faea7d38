import { createPrivateKey } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Server, ServerCredentials, type ServerWritableStream, status } from '@grpc/grpc-js'
import type { CertificateAuthority, MintedSvid } from '../../src/dev-ca.js'
import {
  workloadApiHeader,
  workloadApiService,
  type X509SvidResponseMessage,
} from '../../src/index.js'

type Call = ServerWritableStream<object, X509SvidResponseMessage>

export function responseFor(
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
 * A SPIRE agent stand-in: a real gRPC server on a Unix socket serving the
 * Workload API's FetchX509SVID stream, refusing calls without the security
 * header as the real agent does, and pushing a message on every push().
 */
export class FakeAgent {
  readonly socketPath: string
  readonly headers: string[] = []
  #server: Server | undefined
  #calls = new Set<Call>()
  #current: X509SvidResponseMessage

  constructor(dir: string, initial: X509SvidResponseMessage) {
    this.socketPath = join(dir, 'agent.sock')
    this.#current = initial
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
