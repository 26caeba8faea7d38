/**
 * Baselines for `pnpm bench`, each in its own process like the services:
 * `hello <port>`: a bare Fastify hello-world (and, read after the runs,
 * its heap at /heap);
 * `hop <port> <upstream>`: a Fastify app that relays every request to the
 * hello-world over plain HTTP with an undici pool (the hop without mTLS);
 * `hello-mtls <port> <svid dir>`: the hello-world behind SPIFFE mTLS
 * (Fastify + installSpiffe, as url-service serves);
 * `hop-mtls <port> <upstream> <svid dir>`: the same relay through an
 * MtlsDispatcher (as the gateway calls url-service). The two mTLS modes use
 * the stack's dev SVIDs, so the hop over mTLS minus the plain hop is the
 * cost of SPIFFE mTLS alone, without the gateway's validation and hooks.
 */

import { getHeapSpaceStatistics } from 'node:v8'
import {
  authorizeMemberOf,
  createMtlsServerOptions,
  DirectorySource,
  installSpiffe,
  MtlsDispatcher,
} from '@zt/spiffe'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Dispatcher, Pool } from 'undici'

const [mode, portText, upstream, svidDir] = process.argv.slice(2)

async function source(dir: string | undefined): Promise<DirectorySource> {
  if (!dir) throw new Error(`${mode} needs an SVID directory`)
  const svids = new DirectorySource({ dir })
  await svids.ready()
  return svids
}

function relay(app: FastifyInstance, dispatcher: Dispatcher, origin: string): void {
  app.get('/*', async (request, reply) => {
    const answer = await dispatcher.request({ origin, path: request.url, method: 'GET' })
    reply.code(answer.statusCode).header('content-type', 'application/json')
    return answer.body.text()
  })
}

/** prom-client's default heap metrics, computed on demand. */
function heapMetrics(): string {
  const memory = process.memoryUsage()
  return [
    ...getHeapSpaceStatistics().map(
      (space) =>
        `nodejs_heap_space_size_total_bytes{space="${space.space_name.replace(/_space$/, '')}"} ${space.space_size}`,
    ),
    `nodejs_heap_size_total_bytes ${memory.heapTotal}`,
    `nodejs_heap_size_used_bytes ${memory.heapUsed}`,
    `nodejs_external_memory_bytes ${memory.external}`,
  ].join('\n')
}

let app: FastifyInstance
if (mode === 'hello') {
  app = Fastify({ logger: false })
  app.get('/*', async () => ({ hello: 'world' }))
  // Read once after the runs: the heap in the names the services' /metrics
  // use, so the bench splits the bare server's memory the same way.
  app.get('/heap', async (_request, reply) => reply.type('text/plain').send(heapMetrics()))
} else if (mode === 'hello-mtls') {
  const svids = await source(upstream)
  const mtls = Fastify({ logger: false, https: createMtlsServerOptions(svids) })
  installSpiffe(mtls, { source: svids, authorizer: authorizeMemberOf(svids.svid().id.trustDomain) })
  mtls.get('/*', async () => ({ hello: 'world' }))
  app = mtls as unknown as FastifyInstance
} else if (mode === 'hop-mtls') {
  const svids = await source(svidDir)
  app = Fastify({ logger: false })
  const dispatcher = new MtlsDispatcher(svids, {
    authorizer: authorizeMemberOf(svids.svid().id.trustDomain),
    agentOptions: { connections: 16 },
  })
  relay(app, dispatcher, new URL(upstream ?? 'https://127.0.0.1:1').origin)
} else {
  app = Fastify({ logger: false })
  const origin = new URL(upstream ?? 'http://127.0.0.1:1').origin
  relay(app, new Pool(origin, { connections: 16 }), origin)
}
await app.listen({ port: Number(portText), host: '127.0.0.1' })
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
