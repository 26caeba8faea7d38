import type { Socket } from 'node:net'
import type { SecureContextOptions, TLSSocket, TlsOptions, Server as TlsServer } from 'node:tls'
import type { Authorizer } from './authorize.js'
import { notAfter } from './der.js'
import type { SpiffeId } from './id.js'
import { peerChain } from './peer.js'
import type { SourceLogger, X509Source } from './source.js'
import { verifyX509Svid } from './verify.js'

/** TLS 1.3 only: every SPIFFE peer we talk to is ours, and 1.3 saves a round trip. */
export const mtlsMinVersion = 'TLSv1.3' as const

/**
 * The full credential set for a secure context. setSecureContext replaces
 * the whole context, so every swap must pass all of it: without `ca` Node
 * falls back to the public web roots.
 */
export function mtlsSecureContextOptions(source: X509Source): SecureContextOptions {
  const svid = source.svid()
  return {
    key: svid.privateKeyPem(),
    cert: svid.certificatesPem(),
    ca: source
      .bundles()
      .authorities()
      .map((authority) => authority.toString()),
    minVersion: mtlsMinVersion,
  }
}

/**
 * Options for https.createServer / tls.createServer / Fastify `https`: the
 * server's SVID, the SPIFFE bundle as the only trust roots, and a client
 * certificate required. Pair with attachMtls (or installSpiffe for Fastify),
 * which checks the client's SPIFFE ID and follows rotation.
 */
export function createMtlsServerOptions(source: X509Source): TlsOptions {
  return {
    ...mtlsSecureContextOptions(source),
    requestCert: true,
    rejectUnauthorized: true,
  }
}

interface Peer {
  id: SpiffeId
  expiresAt: number
}

// Stored on the socket under a symbol rather than in a WeakMap: HTTP/2 hands
// handlers a proxy of the TLS socket, which forwards property reads but is
// not the same object.
const kPeer = Symbol('zt.spiffe.peer')
type PeerSocket = Socket & { [kPeer]?: Peer }

/**
 * The verified SPIFFE ID of the peer on a connection accepted by an
 * attachMtls server; undefined when there is none, or when the peer's
 * certificate has expired since the handshake (TLS never re-checks a live
 * connection, so this does, on every call).
 */
export function peerSpiffeId(socket: Socket): SpiffeId | undefined {
  const peer = (socket as PeerSocket)[kPeer]
  return peer && Date.now() < peer.expiresAt ? peer.id : undefined
}

export interface AttachMtlsOptions {
  /** Which client IDs may open a connection at all; routes can narrow further. */
  authorizer: Authorizer
  logger?: SourceLogger
}

/**
 * Makes a TLS server enforce SPIFFE mTLS: every accepted connection's client
 * chain is verified as an X.509-SVID of a trusted trust domain and passed to
 * the authorizer, before any request is read; a refused connection is
 * destroyed without an answer. Credentials are swapped on every source
 * update. Returns a function that detaches both.
 */
export function attachMtls(
  server: TlsServer,
  source: X509Source,
  options: AttachMtlsOptions,
): () => void {
  const onSecureConnection = (socket: TLSSocket) => {
    try {
      const chain = peerChain(socket)
      const id = verifyX509Svid(chain, source, { usage: 'clientAuth' })
      options.authorizer(id)
      ;(socket as PeerSocket)[kPeer] = {
        id,
        expiresAt: Math.min(...chain.map((c) => notAfter(c).getTime())),
      }
    } catch (error) {
      options.logger?.warn(
        {
          remoteAddress: socket.remoteAddress,
          reason: error instanceof Error ? error.message : String(error),
        },
        'mTLS peer refused',
      )
      socket.destroy()
    }
  }
  const onUpdate = () => {
    try {
      server.setSecureContext(mtlsSecureContextOptions(source))
    } catch (error) {
      // Keep serving with the previous credentials rather than fail the source.
      options.logger?.warn(
        { reason: error instanceof Error ? error.message : String(error) },
        'cannot install rotated TLS credentials; keeping the previous ones',
      )
    }
  }
  // First in line, so the HTTP layer never reads from a refused socket.
  server.prependListener('secureConnection', onSecureConnection)
  source.on('update', onUpdate)
  return () => {
    server.off('secureConnection', onSecureConnection)
    source.off('update', onUpdate)
  }
}
