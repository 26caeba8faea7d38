import 'reflect-metadata'
import { X509Certificate } from 'node:crypto'
import { SvidError } from './errors.js'

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----/g

/** Splits PEM text into its blocks; anything between blocks is ignored, as OpenSSL does. */
export function pemBlocks(pem: string): { label: string; der: Buffer }[] {
  const blocks: { label: string; der: Buffer }[] = []
  for (const match of pem.matchAll(pemBlock)) {
    blocks.push({
      label: match[1] ?? '',
      der: Buffer.from((match[2] ?? '').replace(/\s/g, ''), 'base64'),
    })
  }
  return blocks
}

/** Parses every CERTIFICATE block of a PEM text. */
export function certificatesFromPem(pem: string): X509Certificate[] {
  return pemBlocks(pem)
    .filter((block) => block.label === 'CERTIFICATE')
    .map((block) => new X509Certificate(block.der))
}

/**
 * Splits concatenated DER certificates, the encoding the Workload API uses for
 * chains and bundles. Each certificate is one DER SEQUENCE whose header gives
 * its length.
 */
export function certificatesFromDer(der: Uint8Array): X509Certificate[] {
  const certificates: X509Certificate[] = []
  let offset = 0
  while (offset < der.length) {
    if (der[offset] !== 0x30 || offset + 2 > der.length) {
      throw new SvidError('malformed', 'DER data is not a sequence of certificates')
    }
    const first = der[offset + 1] ?? 0
    let length: number
    let header: number
    if (first < 0x80) {
      length = first
      header = 2
    } else {
      const octets = first & 0x7f
      if (octets === 0 || octets > 4 || offset + 2 + octets > der.length) {
        throw new SvidError('malformed', 'DER certificate length is invalid')
      }
      length = 0
      for (let i = 0; i < octets; i++) length = length * 256 + (der[offset + 2 + i] ?? 0)
      header = 2 + octets
    }
    const end = offset + header + length
    if (end > der.length) throw new SvidError('malformed', 'DER certificate is truncated')
    certificates.push(new X509Certificate(Buffer.from(der.subarray(offset, end))))
    offset = end
  }
  return certificates
}

export function certificatesToPem(certificates: readonly X509Certificate[]): string {
  return certificates.map((certificate) => certificate.toString()).join('')
}

export function notBefore(certificate: X509Certificate): Date {
  return new Date(certificate.validFrom)
}

export function notAfter(certificate: X509Certificate): Date {
  return new Date(certificate.validTo)
}
