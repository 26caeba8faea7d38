import { EventEmitter } from 'node:events'
import type { X509Bundle, X509BundleSet, X509BundleSource } from './bundle.js'
import { SourceError } from './errors.js'
import type { TrustDomain } from './id.js'
import type { X509Svid } from './svid.js'

/**
 * A live supply of this workload's X.509-SVID and the trust bundles, kept
 * current as they rotate. 'update' fires after every change.
 */
export interface X509Source extends X509BundleSource {
  /** True while an unexpired SVID is held. */
  readonly isReady: boolean
  /** When the current SVID expires; undefined before the first one arrives. */
  readonly expiresAt: Date | undefined
  /** Resolves once the first SVID and bundle are held; rejects if the source closes first. */
  ready(): Promise<void>
  /** The current SVID; throws SourceError before the source is ready. */
  svid(): X509Svid
  /** The current bundles (own trust domain and federated ones); throws before ready. */
  bundles(): X509BundleSet
  /** Where the SVIDs come from, e.g. `SPIFFE_SVID_DIR /run/spiffe/svid`: errors name it. */
  toString(): string
  on(event: 'update', listener: () => void): this
  off(event: 'update', listener: () => void): this
  close(): Promise<void>
}

/** The subset of a pino logger the sources use. */
export interface SourceLogger {
  info(object: object, message: string): void
  warn(object: object, message: string): void
}

const silent: SourceLogger = { info() {}, warn() {} }

/** Shared state keeping for the source implementations. */
export abstract class BaseX509Source extends EventEmitter implements X509Source {
  protected readonly logger: SourceLogger
  protected closed = false
  #svid: X509Svid | undefined
  #bundles: X509BundleSet | undefined
  readonly #ready = Promise.withResolvers<void>()

  constructor(logger: SourceLogger = silent) {
    super()
    this.logger = logger
    // close() before the first SVID rejects ready(); nobody may be waiting.
    this.#ready.promise.catch(() => {})
  }

  get isReady(): boolean {
    return this.#svid !== undefined && this.#svid.expiresAt.getTime() > Date.now()
  }

  get expiresAt(): Date | undefined {
    return this.#svid?.expiresAt
  }

  ready(): Promise<void> {
    return this.#ready.promise
  }

  svid(): X509Svid {
    if (this.#svid === undefined) throw new SourceError('X.509 source has no SVID yet')
    return this.#svid
  }

  bundles(): X509BundleSet {
    if (this.#bundles === undefined) throw new SourceError('X.509 source has no bundle yet')
    return this.#bundles
  }

  override toString(): string {
    return this.constructor.name
  }

  bundleFor(trustDomain: TrustDomain): X509Bundle | undefined {
    return this.#bundles?.bundleFor(trustDomain)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.#ready.reject(new SourceError('X.509 source closed before it was ready'))
    await this.shutdown()
    this.removeAllListeners()
  }

  protected abstract shutdown(): Promise<void>

  /** Installs a new SVID and bundle set; emits 'update' only when something changed. */
  protected publish(svid: X509Svid, bundles: X509BundleSet): void {
    if (this.closed) return
    const unchanged =
      this.#svid !== undefined &&
      this.#bundles !== undefined &&
      this.#svid.equals(svid) &&
      this.#bundles.equals(bundles)
    if (unchanged) return
    this.#svid = svid
    this.#bundles = bundles
    this.logger.info(
      {
        spiffeId: svid.id.toString(),
        expiresAt: svid.expiresAt.toISOString(),
        trustDomains: bundles.bundles().map((b) => b.trustDomain.name),
      },
      'X.509-SVID updated',
    )
    this.#ready.resolve()
    this.emit('update')
  }
}

/**
 * A source whose SVID and bundles are set by code: for tests, and for
 * programs that obtain credentials some other way.
 */
export class StaticX509Source extends BaseX509Source {
  constructor(svid: X509Svid, bundles: X509BundleSet, logger?: SourceLogger) {
    super(logger)
    this.publish(svid, bundles)
  }

  set(svid: X509Svid, bundles: X509BundleSet): void {
    this.publish(svid, bundles)
  }

  protected async shutdown(): Promise<void> {}
}
