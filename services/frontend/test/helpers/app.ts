import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRegistry } from '@zt/service-kit'
import type { FastifyInstance } from 'fastify'
import tap from 'tap'
import { type AppOptions, buildApp } from '../../src/app.js'
import { type Assets, prepareAssets } from '../../src/assets.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

/** The UI compiled once per test file, as `pnpm dev` does at start-up. */
let assets: Promise<Assets> | undefined
export function testAssets(): Promise<Assets> {
  if (!assets) {
    const pending = prepareAssets()
    assets = pending
    tap.teardown(async () => (await pending).dispose())
  }
  return assets
}

export async function testApp(
  t: Teardownable,
  config: Partial<AppOptions['config']> = {},
  extra: Partial<Omit<AppOptions, 'config'>> = {},
): Promise<FastifyInstance> {
  const app = await buildApp({
    config: {
      LOG_LEVEL: 'silent',
      API_GATEWAY_URL: 'http://127.0.0.1:9',
      TRUSTED_PROXIES: [],
      ...config,
    },
    assetsRoot: (await testAssets()).root,
    registry: createRegistry('frontend'),
    ...extra,
  })
  t.teardown(() => app.close())
  return app
}

export interface Recorded {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
}

/** A plain HTTP server standing in for the gateway; it records what reached it. */
export async function recordingServer(
  t: Teardownable,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; seen: Recorded[]; connections: () => number }> {
  const seen: Recorded[] = []
  let connections = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      })
      handler(req, res)
    })
  })
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    connections: () => connections,
  }
}
