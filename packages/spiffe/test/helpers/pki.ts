import type { AddressInfo } from 'node:net'
import { Agent, request } from 'undici'
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type MintOptions,
  mintSource,
  mintSvid,
} from '../../src/dev-ca.js'
import { SpiffeId, TrustDomain, X509Bundle, X509BundleSet, X509Svid } from '../../src/index.js'

export const td = TrustDomain.parse('zt.local')
export const ids = {
  gateway: SpiffeId.parse('spiffe://zt.local/ns/services/sa/api-gateway'),
  urlService: SpiffeId.parse('spiffe://zt.local/ns/services/sa/url-service'),
  worker: SpiffeId.parse('spiffe://zt.local/ns/services/sa/worker'),
  frontend: SpiffeId.parse('spiffe://zt.local/ns/public/sa/frontend'),
}

export function bundleSet(...authorities: CertificateAuthority[]): X509BundleSet {
  const byDomain = new Map<string, CertificateAuthority[]>()
  for (const authority of authorities) {
    const list = byDomain.get(authority.trustDomain.name) ?? []
    list.push(authority)
    byDomain.set(authority.trustDomain.name, list)
  }
  return new X509BundleSet(
    [...byDomain.values()].map(
      (list) =>
        new X509Bundle(
          (list[0] as CertificateAuthority).trustDomain,
          list.map((authority) => authority.certificate),
        ),
    ),
  )
}

export async function svidFor(ca: CertificateAuthority, options: MintOptions): Promise<X509Svid> {
  const minted = await mintSvid(ca, options)
  return X509Svid.parsePem(minted.certificatesPem, minted.keyPem)
}

/** A CA for zt.local and ready static sources for the gateway and url-service. */
export async function createPki() {
  const ca = await createCertificateAuthority({ trustDomain: td })
  const bundles = bundleSet(ca)
  const source = (id: SpiffeId, options: MintOptions = {}) => mintSource(ca, { id, ...options })
  return { ca, bundles, source }
}

export function port(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port
}

/**
 * A client that presents whatever certificate it is given. It still checks
 * the server's chain against `ca`, but skips the hostname (the server's SVID
 * has no DNS name), so only the server's verdict on the client is tested.
 */
export async function callWith(
  url: string,
  credentials: { cert?: string; key?: string; ca: string },
): Promise<{ status: number; body: string; contentType: string | undefined }> {
  const agent = new Agent({
    connect: { ...credentials, checkServerIdentity: () => undefined, maxCachedSessions: 0 },
  })
  try {
    const response = await request(url, { dispatcher: agent })
    const contentType = response.headers['content-type']
    return {
      status: response.statusCode,
      body: await response.body.text(),
      contentType: typeof contentType === 'string' ? contentType : undefined,
    }
  } finally {
    await agent.destroy()
  }
}

/** Collects pino lines written by an app under test. */
export function logCapture() {
  const lines: Record<string, unknown>[] = []
  return {
    lines,
    stream: {
      write(line: string) {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      },
    },
  }
}
