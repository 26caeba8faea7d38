/**
 * The bench's server process: the same tiny handler over plain HTTP and over
 * SPIFFE mTLS (Fastify + installSpiffe, as url-service runs it). It reports
 * its ports and, on request, its own CPU usage over IPC.
 */
import Fastify from 'fastify'
import {
  authorizeId,
  createMtlsServerOptions,
  DirectorySource,
  installSpiffe,
  SpiffeId,
} from '../src/index.js'

const dir = process.env.BENCH_SVID_DIR
const caller = process.env.BENCH_CALLER_ID
if (!dir || !caller || !process.send) throw new Error('run me from bench/mtls.ts')

const source = new DirectorySource({ dir })
await source.ready()
const handler = async () => ({ ok: true })

const plain = Fastify({ logger: false })
plain.get('/', handler)
await plain.listen({ port: 0, host: '127.0.0.1' })

const mtls = Fastify({ logger: false, https: createMtlsServerOptions(source) })
installSpiffe(mtls, { source, authorizer: authorizeId(SpiffeId.parse(caller)) })
mtls.get('/', handler)
await mtls.listen({ port: 0, host: '127.0.0.1' })

const h2 = Fastify({
  logger: false,
  http2: true,
  https: { ...createMtlsServerOptions(source), allowHTTP1: true },
})
installSpiffe(h2, { source, authorizer: authorizeId(SpiffeId.parse(caller)) })
h2.get('/', handler)
await h2.listen({ port: 0, host: '127.0.0.1' })

// The default TLS 1.3 suite is AES-256-GCM; AES-128-GCM is the cheapest
// alternative every peer supports.
const aes128 = Fastify({
  logger: false,
  https: { ...createMtlsServerOptions(source), ciphers: 'TLS_AES_128_GCM_SHA256' },
})
installSpiffe(aes128, { source, authorizer: authorizeId(SpiffeId.parse(caller)) })
aes128.get('/', handler)
await aes128.listen({ port: 0, host: '127.0.0.1' })

const address = (app: typeof plain | typeof mtls | typeof h2 | typeof aes128) => {
  const info = app.server.address()
  return typeof info === 'object' && info ? info.port : 0
}

process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() })
  if (message === 'stop') {
    Promise.all([plain.close(), mtls.close(), h2.close(), aes128.close(), source.close()]).then(
      () => process.exit(0),
    )
  }
})
process.send({
  plainPort: address(plain),
  mtlsPort: address(mtls),
  h2Port: address(h2),
  aes128Port: address(aes128),
})
