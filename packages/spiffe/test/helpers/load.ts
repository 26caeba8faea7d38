import type { TLSSocket } from 'node:tls'
import { installProblemHandlers } from '@zt/service-kit'
import Fastify from 'fastify'
import type { Test } from 'tap'
import { type Dispatcher, request } from 'undici'
import {
  authorizeId,
  createMtlsServerOptions,
  installSpiffe,
  MtlsDispatcher,
  type X509Source,
} from '../../src/index.js'
import { ids, port } from './pki.js'

/** url-service stand-in: answers with the certificate serials on both ends of the connection. */
export async function startEchoServer(source: X509Source) {
  const app = Fastify({ https: createMtlsServerOptions(source) })
  installProblemHandlers(app)
  installSpiffe(app, { source, authorizer: authorizeId(ids.gateway) })
  app.get('/serials', async (request) => {
    const socket = request.raw.socket as TLSSocket
    return {
      client: socket.getPeerCertificate().serialNumber,
      server: (socket.getCertificate() as { serialNumber: string }).serialNumber,
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url: `https://127.0.0.1:${port(app.server)}/serials` }
}

export function serialOf(source: X509Source): string {
  return source.svid().leaf.serialNumber
}

export async function fetchSerials(url: string, dispatcher: Dispatcher) {
  const response = await request(url, { dispatcher })
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`)
  return (await response.body.json()) as { client: string; server: string }
}

/**
 * Sends requests with fixed concurrency until stop() is called; counts
 * failures and the distinct certificates seen on both ends.
 */
export function startLoad(url: string, dispatcher: Dispatcher, concurrency = 4) {
  let running = true
  const stats = {
    ok: 0,
    failed: 0,
    errors: [] as string[],
    clients: new Set<string>(),
    servers: new Set<string>(),
  }
  const worker = async () => {
    while (running) {
      try {
        const serials = await fetchSerials(url, dispatcher)
        stats.ok++
        stats.clients.add(serials.client)
        stats.servers.add(serials.server)
      } catch (error) {
        stats.failed++
        if (stats.errors.length < 5) stats.errors.push(String(error))
      }
    }
  }
  const workers = Array.from({ length: concurrency }, worker)
  return {
    stats,
    async stop() {
      running = false
      await Promise.all(workers)
      return stats
    },
  }
}

/** Resolves on the source's next update, or rejects after `timeoutMs`. */
export function nextUpdate(source: X509Source, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.off('update', onUpdate)
      reject(new Error('no update within the timeout'))
    }, timeoutMs)
    const onUpdate = () => {
      clearTimeout(timer)
      source.off('update', onUpdate)
      resolve()
    }
    source.on('update', onUpdate)
  })
}

/** A fresh dispatcher makes a fresh connection: what a new connection presents now. */
export async function freshSerials(url: string, source: X509Source) {
  const dispatcher = new MtlsDispatcher(source, { authorizer: authorizeId(ids.urlService) })
  try {
    return await fetchSerials(url, dispatcher)
  } finally {
    await dispatcher.close()
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Serves the echo server from `serverSource` to a client on `clientSource`
 * under load while `rotate` runs, then checks what every rotation must keep:
 * no failed request, several certificates seen on both ends, and the newest
 * presented on a new connection. Returns the server's URL for further checks.
 */
export async function rotateUnderLoad(
  t: Test,
  serverSource: X509Source,
  clientSource: X509Source,
  rotate: () => Promise<void>,
): Promise<string> {
  await Promise.all([serverSource.ready(), clientSource.ready()])
  const server = await startEchoServer(serverSource)
  t.teardown(() => server.app.close())
  const dispatcher = new MtlsDispatcher(clientSource, { authorizer: authorizeId(ids.urlService) })
  t.teardown(() => dispatcher.close())
  const load = startLoad(server.url, dispatcher)
  await rotate()
  const stats = await load.stop()

  t.equal(stats.failed, 0, `no failed requests (${stats.errors.join('; ')})`)
  t.ok(stats.ok > 20, `requests flowed (${stats.ok})`)
  t.ok(stats.clients.size >= 5, `the server saw ${stats.clients.size} client certificates`)
  t.ok(stats.servers.size >= 5, `the client saw ${stats.servers.size} server certificates`)
  t.same(
    await freshSerials(server.url, clientSource),
    { client: serialOf(clientSource), server: serialOf(serverSource) },
    'a new connection presents the newest certificates on both ends',
  )
  return server.url
}
