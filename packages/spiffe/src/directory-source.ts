import { type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { X509Bundle, X509BundleSet } from './bundle.js'
import { BaseX509Source, type SourceLogger } from './source.js'
import { X509Svid } from './svid.js'
import { verifyX509Svid } from './verify.js'

/** File names spiffe-helper and the dev CA write. */
export const svidFileNames = {
  certificates: 'svid.pem',
  privateKey: 'svid_key.pem',
  bundle: 'bundle.pem',
} as const

export interface DirectorySourceOptions {
  /** Directory holding svid.pem (chain, leaf first), svid_key.pem and bundle.pem. */
  dir: string
  logger?: SourceLogger
  /** Re-read this often even without a change event (default 5000 ms). */
  pollIntervalMs?: number
  /** Wait this long after a change event before reading, to coalesce a burst of writes (default 50 ms). */
  debounceMs?: number
  /** First retry delay after a half-written or inconsistent set; doubles up to the poll interval (default 100 ms). */
  retryMs?: number
}

/**
 * Reads an SVID from PEM files and follows their rotation. Writers such as
 * spiffe-helper replace the three files one after another with plain
 * writes, so a read can see a half-written or mismatched set: such a set is
 * retried, and the last good SVID stays in use meanwhile.
 */
export class DirectorySource extends BaseX509Source {
  readonly dir: string
  readonly #pollIntervalMs: number
  readonly #debounceMs: number
  readonly #retryMs: number
  #watcher: FSWatcher | undefined
  #pollTimer: NodeJS.Timeout | undefined
  #reloadTimer: NodeJS.Timeout | undefined
  #reloading: Promise<void> | undefined
  #reloadAgain = false
  #failures = 0
  #lastContent = ''

  constructor(options: DirectorySourceOptions) {
    super(options.logger)
    this.dir = options.dir
    this.#pollIntervalMs = options.pollIntervalMs ?? 5000
    this.#debounceMs = options.debounceMs ?? 50
    this.#retryMs = options.retryMs ?? 100
    this.#startWatch()
    this.#pollTimer = setInterval(() => {
      this.#startWatch()
      this.#schedule(0)
    }, this.#pollIntervalMs)
    this.#schedule(0)
  }

  override toString(): string {
    return `SPIFFE_SVID_DIR ${this.dir}`
  }

  #startWatch(): void {
    if (this.#watcher || this.closed) return
    try {
      const watcher = watch(this.dir, () => this.#schedule(this.#debounceMs))
      watcher.on('error', () => {
        watcher.close()
        if (this.#watcher === watcher) this.#watcher = undefined
      })
      this.#watcher = watcher
    } catch {
      // The directory may not exist yet; the poll tries again.
    }
  }

  #schedule(delayMs: number): void {
    if (this.closed) return
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer)
    this.#reloadTimer = setTimeout(() => {
      this.#reloadTimer = undefined
      if (this.#reloading) {
        // A change seen mid-read may not be in what is being read.
        this.#reloadAgain = true
        return
      }
      this.#reloading = this.#reload().finally(() => {
        this.#reloading = undefined
        if (this.#reloadAgain) {
          this.#reloadAgain = false
          this.#schedule(0)
        }
      })
    }, delayMs)
  }

  async #reload(): Promise<void> {
    let content: [string, string, string]
    try {
      content = await Promise.all([
        readFile(join(this.dir, svidFileNames.certificates), 'utf8'),
        readFile(join(this.dir, svidFileNames.privateKey), 'utf8'),
        readFile(join(this.dir, svidFileNames.bundle), 'utf8'),
      ])
    } catch (error) {
      this.#failed(error)
      return
    }
    const joined = content.join('\0')
    if (joined === this.#lastContent) {
      this.#failures = 0
      return
    }
    try {
      const [certificates, key, bundlePem] = content
      const svid = X509Svid.parsePem(certificates, key)
      const bundles = new X509BundleSet([X509Bundle.parsePem(svid.id.trustDomain, bundlePem)])
      // A leaf from one rotation next to a bundle from another shows up here:
      // such a set is not yet complete, so it is not installed.
      verifyX509Svid(svid.certificates, bundles)
      this.#lastContent = joined
      this.#failures = 0
      this.publish(svid, bundles)
    } catch (error) {
      this.#failed(error)
    }
  }

  #failed(error: unknown): void {
    this.#failures++
    // A single failure is the normal sight of a writer mid-way; only a set
    // that stays broken is worth a warning.
    if (this.#failures === 3 || this.#failures % 50 === 0) {
      this.logger.warn(
        { dir: this.dir, reason: error instanceof Error ? error.message : String(error) },
        'SVID files unreadable or inconsistent; keeping the last good SVID',
      )
    }
    this.#schedule(
      Math.min(this.#retryMs * 2 ** Math.min(this.#failures - 1, 16), this.#pollIntervalMs),
    )
  }

  protected async shutdown(): Promise<void> {
    this.#watcher?.close()
    this.#watcher = undefined
    clearInterval(this.#pollTimer)
    clearTimeout(this.#reloadTimer)
    await this.#reloading
  }
}
