import type { X509Certificate } from 'node:crypto'
import { createSecureContext, type TLSSocket } from 'node:tls'
import { Agent, buildConnector, Dispatcher } from 'undici'
import type { Authorizer } from './authorize.js'
import { chainFromPeerCertificate, peerChain } from './peer.js'
import type { SourceLogger, X509Source } from './source.js'
import { mtlsMinVersion } from './tls-server.js'
import { verifyX509Svid } from './verify.js'

/** Agent options a caller may tune; TLS and connection setup belong to the dispatcher. */
export type MtlsAgentOptions = Omit<Agent.Options, 'connect' | 'factory'>

export interface MtlsDispatcherOptions {
  /** Which server IDs this client may talk to, e.g. authorizeId(urlServiceId). */
  authorizer: Authorizer
  /**
   * Longest life of a pooled connection (default 5 minutes, and never more
   * than half the client SVID's remaining lifetime). TLS checks certificates
   * only at the handshake, so a connection must not outlive them for long.
   */
  maxConnectionAgeMs?: number
  agentOptions?: MtlsAgentOptions
  logger?: SourceLogger
}

const defaultMaxConnectionAgeMs = 5 * 60_000
const minConnectionAgeMs = 1000

/**
 * An undici dispatcher for SPIFFE mTLS: presents this workload's SVID,
 * accepts only servers whose X.509-SVID verifies against the bundle and
 * whose SPIFFE ID the authorizer allows (the hostname plays no part), never
 * resumes TLS sessions, and replaces its connection pool (new Agent in, old
 * one drained) on every rotation and whenever the pool reaches its age limit.
 *
 *   const urlService = new MtlsDispatcher(source, { authorizer: authorizeId(id) })
 *   await request('https://url-service:8443/x', { dispatcher: urlService })
 */
export class MtlsDispatcher extends Dispatcher {
  readonly #source: X509Source
  readonly #options: MtlsDispatcherOptions
  readonly #onUpdate: () => void
  #agent: Agent
  #ageTimer: NodeJS.Timeout | undefined
  #closed = false

  /** The source must be ready (await source.ready()). */
  constructor(source: X509Source, options: MtlsDispatcherOptions) {
    super()
    this.#source = source
    this.#options = options
    this.#agent = this.#buildAgent()
    this.#scheduleAgeLimit()
    this.#onUpdate = () => this.#renew('rotation')
    source.on('update', this.#onUpdate)
  }

  #verifyServer(chain: X509Certificate[]): void {
    const id = verifyX509Svid(chain, this.#source, { usage: 'serverAuth' })
    this.#options.authorizer(id)
  }

  #buildAgent(): Agent {
    const svid = this.#source.svid()
    // One context per agent (so per SVID and bundle), shared by its
    // connections: without it tls.connect parsed the key, the chain and every
    // CA again for each new connection.
    const secureContext = createSecureContext({
      key: svid.privateKeyPem(),
      cert: svid.certificatesPem(),
      ca: this.#source
        .bundles()
        .authorities()
        .map((authority) => authority.toString()),
      minVersion: mtlsMinVersion,
    })
    const connector = buildConnector({
      secureContext,
      minVersion: mtlsMinVersion,
      // ALPN is the connector's job once `connect` is a function.
      allowH2: this.#options.agentOptions?.allowH2,
      // A resumed session skips checkServerIdentity, so no session is cached.
      maxCachedSessions: 0,
      // Replaces Node's hostname check: the server is who its SPIFFE ID says.
      checkServerIdentity: (_hostname, peer) => {
        try {
          this.#verifyServer(chainFromPeerCertificate(peer))
          return undefined
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error))
        }
      },
    })
    const connect: buildConnector.connector = (options, callback) => {
      connector(options, (error, socket) => {
        if (error) return callback(error, null)
        // Belt and braces: should a session ever be resumed, the identity
        // check that Node skipped runs here.
        const tlsSocket = socket as TLSSocket
        if (tlsSocket.isSessionReused?.()) {
          try {
            this.#verifyServer(peerChain(tlsSocket))
          } catch (verifyError) {
            tlsSocket.destroy()
            return callback(
              verifyError instanceof Error ? verifyError : new Error(String(verifyError)),
              null,
            )
          }
        }
        callback(null, socket)
      })
    }
    return new Agent({ ...this.#options.agentOptions, connect })
  }

  #scheduleAgeLimit(): void {
    clearTimeout(this.#ageTimer)
    const halfLife = ((this.#source.expiresAt?.getTime() ?? 0) - Date.now()) / 2
    const age = Math.max(
      minConnectionAgeMs,
      Math.min(this.#options.maxConnectionAgeMs ?? defaultMaxConnectionAgeMs, halfLife),
    )
    this.#ageTimer = setTimeout(() => this.#renew('connection age limit'), age).unref()
  }

  #renew(reason: string): void {
    if (this.#closed) return
    let next: Agent
    try {
      next = this.#buildAgent()
    } catch (error) {
      this.#options.logger?.warn(
        { reason: error instanceof Error ? error.message : String(error) },
        'cannot build a new mTLS agent; keeping the current one',
      )
      this.#scheduleAgeLimit()
      return
    }
    const previous = this.#agent
    this.#agent = next
    this.#scheduleAgeLimit()
    // close() lets requests already on the old connections finish.
    previous.close().catch(() => {})
    this.#options.logger?.info({ reason }, 'mTLS connection pool replaced')
  }

  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    return this.#agent.dispatch(options, handler)
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    const done = this.#shutdown().then(() => this.#agent.close())
    if (!callback) return done
    done.then(callback, callback)
    return undefined
  }

  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(
    errorOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | undefined {
    const error = typeof errorOrCallback === 'function' ? null : (errorOrCallback ?? null)
    const cb = typeof errorOrCallback === 'function' ? errorOrCallback : callback
    const done = this.#shutdown().then(() => this.#agent.destroy(error))
    if (!cb) return done
    done.then(cb, cb)
    return undefined
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#ageTimer)
    this.#source.off('update', this.#onUpdate)
  }
}
