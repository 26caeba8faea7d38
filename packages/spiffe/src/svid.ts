import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto'
import { certificatesFromDer, certificatesFromPem, certificatesToPem, notAfter } from './der.js'
import { SvidError } from './errors.js'
import type { SpiffeId } from './id.js'
import { spiffeIdFromCertificate } from './verify.js'

/**
 * This workload's X.509-SVID: its SPIFFE ID, its certificate chain (leaf
 * first) and the private key of the leaf.
 */
export class X509Svid {
  readonly id: SpiffeId
  readonly certificates: readonly X509Certificate[]
  readonly privateKey: KeyObject
  readonly expiresAt: Date
  #certPem: string | undefined
  #keyPem: string | undefined

  constructor(certificates: readonly X509Certificate[], privateKey: KeyObject) {
    const leaf = certificates[0]
    if (leaf === undefined) throw new SvidError('empty-chain', 'SVID has no certificates')
    if (privateKey.type !== 'private') {
      throw new SvidError('key-mismatch', 'SVID key is not a private key')
    }
    if (!leaf.checkPrivateKey(privateKey)) {
      throw new SvidError('key-mismatch', 'SVID private key does not match the leaf certificate')
    }
    this.id = spiffeIdFromCertificate(leaf)
    this.certificates = Object.freeze([...certificates])
    this.privateKey = privateKey
    this.expiresAt = new Date(Math.min(...certificates.map((c) => notAfter(c).getTime())))
  }

  /** From PEM text: the chain (leaf first) and a PKCS#8, SEC1 or PKCS#1 private key. */
  static parsePem(certificatesPem: string, keyPem: string): X509Svid {
    const certificates = certificatesFromPem(certificatesPem)
    let key: KeyObject
    try {
      key = createPrivateKey(keyPem)
    } catch {
      throw new SvidError('malformed', 'SVID private key cannot be parsed')
    }
    return new X509Svid(certificates, key)
  }

  /** From the Workload API encoding: concatenated DER chain and a PKCS#8 DER key. */
  static parseDer(certificatesDer: Uint8Array, keyDer: Uint8Array): X509Svid {
    const certificates = certificatesFromDer(certificatesDer)
    let key: KeyObject
    try {
      key = createPrivateKey({ key: Buffer.from(keyDer), format: 'der', type: 'pkcs8' })
    } catch {
      throw new SvidError('malformed', 'SVID private key cannot be parsed')
    }
    return new X509Svid(certificates, key)
  }

  get leaf(): X509Certificate {
    // The constructor guarantees a first element.
    return this.certificates[0] as X509Certificate
  }

  /** The chain as PEM, for TLS `cert` options. */
  certificatesPem(): string {
    this.#certPem ??= certificatesToPem(this.certificates)
    return this.#certPem
  }

  /** The private key as PKCS#8 PEM, for TLS `key` options. Never log it. */
  privateKeyPem(): string {
    this.#keyPem ??= this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    return this.#keyPem
  }

  /** Same certificates and key (the key follows from the leaf). */
  equals(other: X509Svid): boolean {
    return (
      this.certificates.length === other.certificates.length &&
      this.certificates.every((c, i) => {
        const theirs = other.certificates[i]
        return theirs !== undefined && c.raw.equals(theirs.raw)
      })
    )
  }

  /** What a log line may show: the identity and the expiry, never the key. */
  toJSON(): { id: string; expiresAt: string } {
    return { id: this.id.toString(), expiresAt: this.expiresAt.toISOString() }
  }
}
