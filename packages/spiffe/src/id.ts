import { SpiffeIdError } from './errors.js'

const scheme = 'spiffe://'
// Limits from standards/SPIFFE-ID.md section 2.4.
const maxIdBytes = 2048
const maxTrustDomainBytes = 255
const trustDomainPattern = /^[a-z0-9._-]+$/
const segmentPattern = /^[a-zA-Z0-9._-]+$/

function validateTrustDomainName(name: string): void {
  if (name.length === 0) throw new SpiffeIdError('trust domain is missing')
  if (Buffer.byteLength(name) > maxTrustDomainBytes) {
    throw new SpiffeIdError(`trust domain is longer than ${maxTrustDomainBytes} bytes`)
  }
  if (!trustDomainPattern.test(name)) {
    throw new SpiffeIdError(
      'trust domain characters are limited to lowercase letters, numbers, dots, dashes and underscores',
    )
  }
}

function validatePath(path: string): void {
  if (path === '') return
  if (!path.startsWith('/')) throw new SpiffeIdError('path must start with "/"')
  const segments = path.slice(1).split('/')
  segments.forEach((segment, index) => {
    if (segment === '') {
      throw new SpiffeIdError(
        index === segments.length - 1
          ? 'path cannot have a trailing slash'
          : 'path cannot contain empty segments',
      )
    }
    if (segment === '.' || segment === '..') {
      throw new SpiffeIdError('path cannot contain dot segments')
    }
    if (!segmentPattern.test(segment)) {
      throw new SpiffeIdError(
        'path segment characters are limited to letters, numbers, dots, dashes and underscores',
      )
    }
  })
}

/** The name of a SPIFFE trust domain, e.g. `zt.local`. */
export class TrustDomain {
  readonly name: string

  private constructor(name: string) {
    this.name = name
  }

  /** Parses a bare trust domain name (no scheme, port or path). */
  static parse(name: string): TrustDomain {
    validateTrustDomainName(name)
    return new TrustDomain(name)
  }

  /** The SPIFFE ID of a workload in this trust domain, e.g. `td.id('/ns/services/sa/api')`. */
  id(path: string): SpiffeId {
    return SpiffeId.fromPath(this, path)
  }

  equals(other: TrustDomain): boolean {
    return this.name === other.name
  }

  /** `spiffe://<name>`, the ID of the trust domain itself. */
  idString(): string {
    return `${scheme}${this.name}`
  }

  toString(): string {
    return this.name
  }

  toJSON(): string {
    return this.name
  }
}

/** A SPIFFE ID, `spiffe://<trust-domain><path>`, validated per standards/SPIFFE-ID.md. */
export class SpiffeId {
  readonly trustDomain: TrustDomain
  /** Empty, or `/`-separated segments starting with `/`. */
  readonly path: string
  readonly #value: string

  private constructor(trustDomain: TrustDomain, path: string) {
    this.trustDomain = trustDomain
    this.path = path
    this.#value = `${scheme}${trustDomain.name}${path}`
  }

  static parse(value: string): SpiffeId {
    if (value.length === 0) throw new SpiffeIdError('SPIFFE ID cannot be empty')
    if (Buffer.byteLength(value) > maxIdBytes) {
      throw new SpiffeIdError(`SPIFFE ID is longer than ${maxIdBytes} bytes`)
    }
    // The scheme is compared exactly: URI schemes are case-insensitive in
    // general, but the SPIFFE spec fixes the lowercase spelling.
    if (!value.startsWith(scheme)) throw new SpiffeIdError('scheme is missing or invalid')
    const rest = value.slice(scheme.length)
    const slash = rest.indexOf('/')
    const authority = slash === -1 ? rest : rest.slice(0, slash)
    const path = slash === -1 ? '' : rest.slice(slash)
    // Port, userinfo, query, fragment and percent-encoding all fall outside
    // the allowed character sets, so one character check rejects them all.
    validateTrustDomainName(authority)
    validatePath(path)
    return new SpiffeId(TrustDomain.parse(authority), path)
  }

  static fromPath(trustDomain: TrustDomain, path: string): SpiffeId {
    validatePath(path)
    const id = new SpiffeId(trustDomain, path)
    if (Buffer.byteLength(id.#value) > maxIdBytes) {
      throw new SpiffeIdError(`SPIFFE ID is longer than ${maxIdBytes} bytes`)
    }
    return id
  }

  equals(other: SpiffeId): boolean {
    return this.#value === other.#value
  }

  memberOf(trustDomain: TrustDomain): boolean {
    return this.trustDomain.equals(trustDomain)
  }

  toString(): string {
    return this.#value
  }

  toJSON(): string {
    return this.#value
  }
}
