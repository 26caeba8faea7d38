import type { X509Certificate } from 'node:crypto'
import { certificatesFromDer, certificatesFromPem, certificatesToPem } from './der.js'
import { SvidError } from './errors.js'
import type { TrustDomain } from './id.js'

/** The X.509 authorities (root CAs) of one trust domain. */
export class X509Bundle {
  readonly trustDomain: TrustDomain
  readonly authorities: readonly X509Certificate[]

  constructor(trustDomain: TrustDomain, authorities: readonly X509Certificate[]) {
    this.trustDomain = trustDomain
    this.authorities = Object.freeze([...authorities])
  }

  static parsePem(trustDomain: TrustDomain, pem: string): X509Bundle {
    const authorities = certificatesFromPem(pem)
    if (authorities.length === 0) {
      throw new SvidError('malformed', `bundle for ${trustDomain} contains no certificates`)
    }
    return new X509Bundle(trustDomain, authorities)
  }

  static parseDer(trustDomain: TrustDomain, der: Uint8Array): X509Bundle {
    const authorities = certificatesFromDer(der)
    if (authorities.length === 0) {
      throw new SvidError('malformed', `bundle for ${trustDomain} contains no certificates`)
    }
    return new X509Bundle(trustDomain, authorities)
  }

  toPem(): string {
    return certificatesToPem(this.authorities)
  }

  equals(other: X509Bundle): boolean {
    return (
      this.trustDomain.equals(other.trustDomain) &&
      this.authorities.length === other.authorities.length &&
      this.authorities.every((authority, i) => {
        const theirs = other.authorities[i]
        return theirs !== undefined && authority.raw.equals(theirs.raw)
      })
    )
  }
}

/** Anything that can hand out the bundle of a trust domain (a set, or a live source). */
export interface X509BundleSource {
  bundleFor(trustDomain: TrustDomain): X509Bundle | undefined
}

/** Bundles keyed by trust domain: the workload's own plus federated ones. */
export class X509BundleSet implements X509BundleSource {
  readonly #bundles = new Map<string, X509Bundle>()

  constructor(bundles: Iterable<X509Bundle> = []) {
    for (const bundle of bundles) this.#bundles.set(bundle.trustDomain.name, bundle)
  }

  bundleFor(trustDomain: TrustDomain): X509Bundle | undefined {
    return this.#bundles.get(trustDomain.name)
  }

  bundles(): X509Bundle[] {
    return [...this.#bundles.values()]
  }

  /** Every authority of every trust domain: what a TLS `ca` option needs. */
  authorities(): X509Certificate[] {
    return this.bundles().flatMap((bundle) => [...bundle.authorities])
  }

  equals(other: X509BundleSet): boolean {
    const mine = this.bundles()
    return (
      mine.length === other.bundles().length &&
      mine.every((bundle) => {
        const theirs = other.bundleFor(bundle.trustDomain)
        return theirs !== undefined && bundle.equals(theirs)
      })
    )
  }
}
