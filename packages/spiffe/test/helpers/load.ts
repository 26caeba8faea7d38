import type { TLSSocket } from 'node:tls'
import { installProblemHandlers } from '@zt/service-kit'
import Fastify from 'fastify'
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
