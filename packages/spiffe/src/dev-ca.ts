import 'reflect-metadata'
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as x509 from '@peculiar/x509'
import { X509Bundle, X509BundleSet } from './bundle.js'
import { certificatesToPem } from './der.js'
import { svidFileNames } from './directory-source.js'
import { type SpiffeId, TrustDomain } from './id.js'
import { StaticX509Source } from './source.js'
import { X509Svid } from './svid.js'

/**
 * A development certificate authority for SPIFFE: mints CAs and X.509-SVIDs
 * (ECDSA P-256), including deliberately broken ones for tests, and writes
 * them as the PEM files spiffe-helper writes. Not for production: keys live
 * in plain files.
 */

const crypto = webcrypto
type CryptoKeyPair = webcrypto.CryptoKeyPair
const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
// Issued certificates start a little in the past so that a reader whose
// clock is slightly behind does not see them as not yet valid.
const backdateMs = 10_000

export { KeyUsageFlags } from '@peculiar/x509'

export interface CertificateAuthority {
  readonly trustDomain: TrustDomain
  readonly certificate: X509Certificate
  /** The CA certificate as PEM: what goes into a bundle. */
  readonly certificatePem: string
  readonly keyPem: string
  /** Certificates between a leaf issued by this CA and the root (this CA first, root excluded). */
  readonly chain: readonly X509Certificate[]
  readonly keys: CryptoKeyPair
  /** The subject name as @peculiar/x509 writes it, the issuer name of what this CA signs. */
  readonly subject: string
}

export interface CreateCaOptions {
  trustDomain: TrustDomain | string
  /** Signs the new CA, making it an intermediate; default: self-signed root. */
  parent?: CertificateAuthority
  notBefore?: Date
  notAfter?: Date
  /** Lifetime when notAfter is not given (default 30 days). */
  ttlMs?: number
  commonName?: string
  /** basicConstraints pathLenConstraint; default none. */
  pathLength?: number
  /** Key usage bits; null omits the extension (default keyCertSign + cRLSign). */
  keyUsage?: number | null
}

function trustDomainOf(value: TrustDomain | string): TrustDomain {
  return typeof value === 'string' ? TrustDomain.parse(value) : value
}

function pem(label: string, der: ArrayBuffer): string {
  const base64 = Buffer.from(der).toString('base64')
  return `-----BEGIN ${label}-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`
}

function serialNumber(): string {
  // Positive 128-bit serial: clear the top bit.
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] ?? 0) & 0x7f
  return bytes.toString('hex')
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  return pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey))
}

function window(
  options: { notBefore?: Date; notAfter?: Date; ttlMs?: number },
  defaultTtlMs: number,
) {
  const notBefore = options.notBefore ?? new Date(Date.now() - backdateMs)
  const notAfter = options.notAfter ?? new Date(Date.now() + (options.ttlMs ?? defaultTtlMs))
  return { notBefore, notAfter }
}

export async function createCertificateAuthority(
  options: CreateCaOptions,
): Promise<CertificateAuthority> {
  const trustDomain = trustDomainOf(options.trustDomain)
  const keys = await generateKeys()
  const name = `CN=${options.commonName ?? `${trustDomain.name} dev CA`}, O=SPIFFE`
  const keyUsage =
    options.keyUsage === undefined
      ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
      : options.keyUsage
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, options.pathLength, true),
    ...(keyUsage === null ? [] : [new x509.KeyUsagesExtension(keyUsage, true)]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    // SPIRE puts the trust domain ID on its CAs; verifiers ignore it.
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: trustDomain.idString() }]),
  ]
  const { notBefore, notAfter } = window(options, 30 * 24 * 3600_000)
  const parent = options.parent
  const asn = parent
    ? await x509.X509CertificateGenerator.create(
        {
          serialNumber: serialNumber(),
          subject: name,
          issuer: parent.subject,
          notBefore,
          notAfter,
          publicKey: keys.publicKey,
          signingKey: parent.keys.privateKey,
          signingAlgorithm: algorithm,
          extensions: [
            ...extensions,
            await x509.AuthorityKeyIdentifierExtension.create(parent.keys.publicKey, false, crypto),
          ],
        },
        crypto,
      )
    : await x509.X509CertificateGenerator.createSelfSigned(
        {
          serialNumber: serialNumber(),
          name,
          notBefore,
          notAfter,
          keys,
          signingAlgorithm: algorithm,
          extensions,
        },
        crypto,
      )
  const certificate = new X509Certificate(Buffer.from(asn.rawData))
  return {
    trustDomain,
    certificate,
    certificatePem: certificate.toString(),
    keyPem: await keyPem(keys),
    chain: parent ? [certificate, ...parent.chain] : [],
    keys,
    subject: asn.subject,
  }
}

/** Loads a CA written by writeCertificateAuthority (a root: its chain is empty). */
export async function loadCertificateAuthority(
  trustDomain: TrustDomain | string,
  certificatePem: string,
  privateKeyPem: string,
): Promise<CertificateAuthority> {
  const certificate = new X509Certificate(certificatePem)
  const der = Buffer.from(privateKeyPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')
  const privateKey = await crypto.subtle.importKey('pkcs8', der, algorithm, true, ['sign'])
  const publicKey = await crypto.subtle.importKey(
    'spki',
    certificate.publicKey.export({ format: 'der', type: 'spki' }),
    algorithm,
    true,
    ['verify'],
  )
  return {
    trustDomain: trustDomainOf(trustDomain),
    certificate,
    certificatePem: certificate.toString(),
    keyPem: privateKeyPem,
    chain: [],
    keys: { privateKey, publicKey },
    subject: new x509.X509Certificate(certificate.raw).subject,
  }
}

export interface MintOptions {
  /** The SPIFFE ID; sets the one URI SAN unless `uris` is given. */
  id?: SpiffeId | string
  /** Exact URI SANs, to mint certificates with none or several. */
  uris?: string[]
  dnsNames?: string[]
  notBefore?: Date
  notAfter?: Date
  /** Lifetime when notAfter is not given (default 1 hour, SPIRE's default). */
  ttlMs?: number
  /** Mint a CA certificate (basicConstraints CA=true) instead of a leaf. */
  isCa?: boolean
  /** Key usage bits (KeyUsageFlags); null omits the extension. Default digitalSignature (+ keyCertSign for a CA). */
  keyUsage?: number | null
  /** Extended key usage OIDs; null omits the extension. Default serverAuth + clientAuth. */
  extendedKeyUsage?: string[] | null
  /** Extensions appended verbatim, e.g. a second SAN extension. */
  extraExtensions?: x509.Extension[]
}

export interface MintedSvid {
  /** Leaf first, then the issuing CA chain up to (not including) the root. */
  readonly certificates: readonly X509Certificate[]
  readonly certificatesPem: string
  readonly keyPem: string
}

/** Issues a certificate from `issuer`; by default a valid X.509-SVID for `id`. */
export async function mintSvid(
  issuer: CertificateAuthority,
  options: MintOptions,
): Promise<MintedSvid> {
  const keys = await generateKeys()
  const uris = options.uris ?? (options.id === undefined ? [] : [String(options.id)])
  const names: x509.JsonGeneralNames = [
    ...uris.map((value) => ({ type: 'url' as const, value })),
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ]
  const isCa = options.isCa ?? false
  const keyUsage =
    options.keyUsage === undefined
      ? x509.KeyUsageFlags.digitalSignature | (isCa ? x509.KeyUsageFlags.keyCertSign : 0)
      : options.keyUsage
  const extendedKeyUsage =
    options.extendedKeyUsage === undefined
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : options.extendedKeyUsage
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCa, undefined, true),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey, false, crypto),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
  ]
  if (keyUsage !== null) extensions.push(new x509.KeyUsagesExtension(keyUsage, true))
  if (extendedKeyUsage !== null)
    extensions.push(new x509.ExtendedKeyUsageExtension(extendedKeyUsage))
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false))
  extensions.push(...(options.extraExtensions ?? []))
  const { notBefore, notAfter } = window(options, 3600_000)
  const asn = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: 'O=SPIFFE',
      issuer: issuer.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: algorithm,
      extensions,
    },
    crypto,
  )
  const certificates = [new X509Certificate(Buffer.from(asn.rawData)), ...issuer.chain]
  return {
    certificates,
    certificatesPem: certificatesToPem(certificates),
    keyPem: await keyPem(keys),
  }
}

/** Writes a file so readers see the old or the new content, never a mix. */
/**
 * A ready source holding a freshly minted SVID from `issuer`, trusting
 * `issuer` alone: what a test wires into a server or client in place of the
 * Workload API.
 */
export async function mintSource(
  issuer: CertificateAuthority,
  options: MintOptions,
): Promise<StaticX509Source> {
  const minted = await mintSvid(issuer, options)
  return new StaticX509Source(
    X509Svid.parsePem(minted.certificatesPem, minted.keyPem),
    new X509BundleSet([new X509Bundle(issuer.trustDomain, [issuer.certificate])]),
  )
}

export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(temporary, content, { mode })
  await rename(temporary, path)
}

/** Writes svid.pem, svid_key.pem and bundle.pem into `dir`, each atomically, the bundle last. */
export async function writeSvidFiles(
  dir: string,
  svid: { certificatesPem: string; keyPem: string },
  bundlePem: string,
): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFileAtomic(join(dir, svidFileNames.privateKey), svid.keyPem, 0o600)
  await writeFileAtomic(join(dir, svidFileNames.certificates), svid.certificatesPem)
  await writeFileAtomic(join(dir, svidFileNames.bundle), bundlePem)
}

/**
 * `api-gateway` → spiffe://<td>/ns/services/sa/api-gateway;
 * `public/frontend` → spiffe://<td>/ns/public/sa/frontend.
 */
export function workloadId(trustDomain: TrustDomain, workload: string): SpiffeId {
  const [namespace, serviceAccount] = workload.includes('/')
    ? workload.split('/', 2)
    : ['services', workload]
  return trustDomain.id(`/ns/${namespace}/sa/${serviceAccount}`)
}

/** The folder under the dev CA directory that holds a workload's files: its service account name. */
export function workloadDir(dir: string, workload: string): string {
  return join(dir, workload.split('/').pop() ?? workload)
}

/**
 * The dev trust domain on disk: `<dir>/ca.pem` and `ca-key.pem` (reused when
 * present) and a folder per workload. Supports CA rotation the way SPIRE
 * does it: the next CA joins the bundle first, then issues, then the old CA
 * leaves the bundle.
 */
export class DevTrustDomain {
  readonly dir: string
  readonly trustDomain: TrustDomain
  #active: CertificateAuthority
  #trusted: CertificateAuthority[]
  #next: CertificateAuthority | undefined

  private constructor(dir: string, authority: CertificateAuthority) {
    this.dir = dir
    this.trustDomain = authority.trustDomain
    this.#active = authority
    this.#trusted = [authority]
  }

  /** Opens the CA in `dir`, creating it unless a valid one for the same trust domain is there. */
  static async open(dir: string, trustDomain: TrustDomain | string): Promise<DevTrustDomain> {
    const domain = trustDomainOf(trustDomain)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const existing = await DevTrustDomain.#load(dir, domain)
    const authority = existing ?? (await createCertificateAuthority({ trustDomain: domain }))
    const opened = new DevTrustDomain(dir, authority)
    if (!existing) await opened.#writeCa()
    return opened
  }

  static async #load(
    dir: string,
    trustDomain: TrustDomain,
  ): Promise<CertificateAuthority | undefined> {
    try {
      const [certificatePem, privateKeyPem] = await Promise.all([
        readFile(join(dir, 'ca.pem'), 'utf8'),
        readFile(join(dir, 'ca-key.pem'), 'utf8'),
      ])
      const authority = await loadCertificateAuthority(trustDomain, certificatePem, privateKeyPem)
      // A CA of another trust domain, or one about to expire, is replaced.
      const caId = authority.certificate.subjectAltName ?? ''
      const fresh = new Date(authority.certificate.validTo).getTime() > Date.now() + 24 * 3600_000
      return caId === `URI:${trustDomain.idString()}` && fresh ? authority : undefined
    } catch {
      return undefined
    }
  }

  async #writeCa(): Promise<void> {
    await writeFileAtomic(join(this.dir, 'ca-key.pem'), this.#active.keyPem, 0o600)
    await writeFileAtomic(join(this.dir, 'ca.pem'), this.#active.certificatePem)
  }

  get authority(): CertificateAuthority {
    return this.#active
  }

  /** Every CA currently trusted, as PEM. */
  bundlePem(): string {
    return this.#trusted.map((authority) => authority.certificatePem).join('')
  }

  /** Issues a fresh SVID for `workload` and writes its three files. */
  async issue(workload: string, ttlMs: number): Promise<SpiffeId> {
    const id = workloadId(this.trustDomain, workload)
    const svid = await mintSvid(this.#active, { id, ttlMs })
    await writeSvidFiles(workloadDir(this.dir, workload), svid, this.bundlePem())
    return id
  }

  /** CA rotation step 1: a new CA joins the bundle but does not issue yet. */
  async prepareCaRotation(): Promise<void> {
    this.#next = await createCertificateAuthority({ trustDomain: this.trustDomain })
    this.#trusted = [this.#active, this.#next]
  }

  /** Step 2: the new CA issues from now on (the old one stays trusted). */
  async activateNextCa(): Promise<void> {
    if (!this.#next) throw new Error('prepareCaRotation first')
    this.#active = this.#next
    this.#next = undefined
    await this.#writeCa()
  }

  /** Step 3: the old CA leaves the bundle, once no SVID it issued is in use. */
  retirePreviousCa(): void {
    this.#trusted = [this.#active]
  }
}
