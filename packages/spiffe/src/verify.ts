import 'reflect-metadata'
import type { X509Certificate } from 'node:crypto'
import {
  X509Certificate as AsnCertificate,
  type BasicConstraintsExtension,
  ExtendedKeyUsage,
  type ExtendedKeyUsageExtension,
  KeyUsageFlags,
  type KeyUsagesExtension,
  type SubjectAlternativeNameExtension,
} from '@peculiar/x509'
import type { X509BundleSource } from './bundle.js'
import { notAfter, notBefore } from './der.js'
import { SpiffeIdError, SvidError } from './errors.js'
import { SpiffeId } from './id.js'

/** The TLS role the peer's certificate is used for; checked against its extended key usage. */
export type SvidUsage = 'clientAuth' | 'serverAuth'

export interface VerifyOptions {
  /** The time to check validity windows against (default: now). */
  now?: Date
  /** When set, a leaf that carries extended key usage must include it. */
  usage?: SvidUsage
}

const maxChainLength = 8
const oidBasicConstraints = '2.5.29.19'
const oidKeyUsage = '2.5.29.15'
const oidExtendedKeyUsage = '2.5.29.37'
const oidSubjectAltName = '2.5.29.17'

interface Decoded {
  ca: boolean
  pathLength: number | undefined
  keyUsage: number | undefined
  extendedKeyUsage: string[] | undefined
  uris: string[]
}

// ASN.1 decoding costs far more than hashing, and handshakes present the
// same few certificates again and again: results are kept by the SHA-256
// fingerprint of the DER, in a small map that is simply emptied when full.
const decodedCache = new Map<string, Decoded>()
const decodedCacheLimit = 512

function decode(certificate: X509Certificate): Decoded {
  const fingerprint = certificate.fingerprint256
  const cached = decodedCache.get(fingerprint)
  if (cached) return cached
  let parsed: AsnCertificate
  try {
    parsed = new AsnCertificate(certificate.raw)
  } catch {
    throw new SvidError('malformed', 'certificate cannot be parsed')
  }
  // RFC 5280 4.2: a certificate must not include more than one instance of
  // an extension; a parser that picks the first would let a second one hide.
  const seen = new Set<string>()
  for (const extension of parsed.extensions) {
    if (seen.has(extension.type)) {
      throw new SvidError('duplicate-extension', `certificate repeats extension ${extension.type}`)
    }
    seen.add(extension.type)
  }
  const basic = parsed.getExtension<BasicConstraintsExtension>(oidBasicConstraints)
  const keyUsage = parsed.getExtension<KeyUsagesExtension>(oidKeyUsage)
  const extendedKeyUsage = parsed.getExtension<ExtendedKeyUsageExtension>(oidExtendedKeyUsage)
  const san = parsed.getExtension<SubjectAlternativeNameExtension>(oidSubjectAltName)
  const decoded: Decoded = {
    ca: basic?.ca ?? false,
    pathLength: basic?.pathLength,
    keyUsage: keyUsage?.usages,
    extendedKeyUsage: extendedKeyUsage?.usages.map(String),
    uris: san
      ? san.names.items.filter((name) => name.type === 'url').map((name) => name.value)
      : [],
  }
  if (decodedCache.size >= decodedCacheLimit) decodedCache.clear()
  decodedCache.set(fingerprint, decoded)
  return decoded
}

/**
 * The SPIFFE ID of a certificate: its one URI SAN, read from the DER
 * extension (never from Node's escaped `subjectAltName` string, CVE-2021-44532).
 */
export function spiffeIdFromCertificate(certificate: X509Certificate): SpiffeId {
  const { uris } = decode(certificate)
  if (uris.length === 0) throw new SvidError('no-uri-san', 'certificate has no URI SAN')
  if (uris.length > 1) {
    throw new SvidError('multiple-uri-sans', `certificate has ${uris.length} URI SANs, not one`)
  }
  try {
    return SpiffeId.parse(uris[0] as string)
  } catch (error) {
    const reason = error instanceof SpiffeIdError ? error.message : 'invalid'
    throw new SvidError('invalid-spiffe-id', `URI SAN is not a valid SPIFFE ID: ${reason}`)
  }
}

function checkValidity(certificate: X509Certificate, now: Date, role: string): void {
  if (now < notBefore(certificate)) {
    throw new SvidError(
      'not-yet-valid',
      `${role} certificate is not valid before ${certificate.validFrom}`,
    )
  }
  if (now > notAfter(certificate)) {
    throw new SvidError('expired', `${role} certificate expired at ${certificate.validTo}`)
  }
}

function checkLeaf(leaf: X509Certificate, usage: SvidUsage | undefined): void {
  const decoded = decode(leaf)
  if (decoded.ca) throw new SvidError('leaf-is-ca', 'leaf certificate must not be a CA')
  const keyUsage = decoded.keyUsage ?? 0
  if ((keyUsage & KeyUsageFlags.digitalSignature) === 0) {
    throw new SvidError('key-usage', 'leaf certificate must have key usage digitalSignature')
  }
  if ((keyUsage & KeyUsageFlags.keyCertSign) !== 0) {
    throw new SvidError('key-usage', 'leaf certificate must not have key usage keyCertSign')
  }
  if ((keyUsage & KeyUsageFlags.cRLSign) !== 0) {
    throw new SvidError('key-usage', 'leaf certificate must not have key usage cRLSign')
  }
  if (usage && decoded.extendedKeyUsage) {
    const wanted =
      usage === 'serverAuth' ? ExtendedKeyUsage.serverAuth : ExtendedKeyUsage.clientAuth
    if (!decoded.extendedKeyUsage.includes(wanted)) {
      throw new SvidError(
        'extended-key-usage',
        `leaf certificate extended key usage lacks ${usage}`,
      )
    }
  }
}

/** Whether `issuer` signed `subject`: names chain and the signature verifies. */
function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey)
}

/**
 * Whether a certificate may sign the one below it. X509-SVID 4.3 requires
 * keyCertSign on signing certificates; a bundle authority is trusted by
 * configuration and may predate that rule, so for it a missing key usage
 * extension is tolerated (a present one must still allow signing).
 */
function canSign(certificate: X509Certificate, belowCas: number, anchor: boolean): boolean {
  const decoded = decode(certificate)
  if (!decoded.ca) return false
  if (
    decoded.keyUsage === undefined ? !anchor : (decoded.keyUsage & KeyUsageFlags.keyCertSign) === 0
  ) {
    return false
  }
  return decoded.pathLength === undefined || decoded.pathLength >= belowCas
}

/**
 * Verifies a peer's X.509-SVID chain (leaf first) per standards/X509-SVID.md
 * sections 4 and 5 and returns its SPIFFE ID. The chain must build, signature
 * by signature, to an authority in the bundle of the leaf's own trust domain,
 * with every certificate inside its validity window. Throws SvidError.
 */
export function verifyX509Svid(
  chain: readonly X509Certificate[],
  bundles: X509BundleSource,
  options: VerifyOptions = {},
): SpiffeId {
  const now = options.now ?? new Date()
  const leaf = chain[0]
  if (leaf === undefined) throw new SvidError('empty-chain', 'no certificate presented')
  const id = spiffeIdFromCertificate(leaf)
  checkLeaf(leaf, options.usage)
  checkValidity(leaf, now, 'leaf')
  const bundle = bundles.bundleFor(id.trustDomain)
  if (bundle === undefined) {
    throw new SvidError('no-bundle', `no bundle for trust domain ${id.trustDomain}`)
  }

  // Walk up from the leaf: at each step prefer an authority of the bundle,
  // else an intermediate the peer sent. Intermediates are used at most once,
  // so a loop of certificates cannot run forever.
  const unused = new Set(chain.slice(1))
  let current = leaf
  for (let depth = 0; depth < maxChainLength; depth++) {
    const authority = bundle.authorities.find(
      (candidate) => canSign(candidate, depth, true) && issued(candidate, current),
    )
    if (authority) {
      checkValidity(authority, now, 'authority')
      return id
    }
    const intermediate = [...unused].find(
      (candidate) => canSign(candidate, depth, false) && issued(candidate, current),
    )
    if (!intermediate) break
    checkValidity(intermediate, now, 'intermediate')
    unused.delete(intermediate)
    current = intermediate
  }
  throw new SvidError(
    'untrusted-chain',
    `certificate chain does not lead to the bundle of ${id.trustDomain}`,
  )
}
