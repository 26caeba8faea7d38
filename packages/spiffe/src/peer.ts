import { X509Certificate } from 'node:crypto'
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls'
import { SvidError } from './errors.js'

/**
 * The certificate chain a TLS peer presented, leaf first, from Node's
 * detailed peer certificate (each entry links to its issuer; the root links
 * to itself).
 */
export function chainFromPeerCertificate(
  peer: PeerCertificate | DetailedPeerCertificate,
): X509Certificate[] {
  const chain: X509Certificate[] = []
  const seen = new Set<string>()
  let current: Partial<DetailedPeerCertificate> | undefined = peer
  while (current?.raw && current.fingerprint256 && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256)
    chain.push(new X509Certificate(current.raw))
    current = current.issuerCertificate
  }
  if (chain.length === 0) throw new SvidError('empty-chain', 'peer presented no certificate')
  return chain
}

export function peerChain(socket: TLSSocket): X509Certificate[] {
  return chainFromPeerCertificate(socket.getPeerCertificate(true))
}
