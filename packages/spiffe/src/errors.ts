/** A string that is not a valid SPIFFE ID or trust domain name. */
export class SpiffeIdError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SpiffeIdError'
  }
}

/** Why a certificate chain is not an acceptable X.509-SVID. */
export type SvidErrorCode =
  | 'empty-chain'
  | 'no-uri-san'
  | 'multiple-uri-sans'
  | 'invalid-spiffe-id'
  | 'leaf-is-ca'
  | 'key-usage'
  | 'extended-key-usage'
  | 'duplicate-extension'
  | 'not-yet-valid'
  | 'expired'
  | 'no-bundle'
  | 'untrusted-chain'
  | 'key-mismatch'
  | 'malformed'

/** A certificate chain that fails X.509-SVID validation; `code` says which rule failed. */
export class SvidError extends Error {
  readonly code: SvidErrorCode

  constructor(code: SvidErrorCode, message: string) {
    super(message)
    this.name = 'SvidError'
    this.code = code
  }
}

/** A valid SPIFFE ID that the authorizer does not allow. */
export class AuthorizationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AuthorizationError'
  }
}

/** A source that cannot be configured or has no SVID yet. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SourceError'
  }
}
