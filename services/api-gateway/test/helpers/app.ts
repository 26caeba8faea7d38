import { createRegistry } from '@zt/service-kit'
import type { FastifyInstance } from 'fastify'
import { type AppOptions, buildApp } from '../../src/app.js'
import type { UrlServiceClient } from '../../src/url-service-client.js'
import { FakeUrlService } from './fake-url-service.js'

export const publicBaseUrl = 'https://sho.rt'

interface Teardownable {
  teardown(fn: () => unknown): void
}

/** A gateway app on a fake url-service, closed when the test ends. */
export async function testApp(
  t: Teardownable,
  overrides: Partial<AppOptions['config']> = {},
  urlService: UrlServiceClient = new FakeUrlService(),
): Promise<FastifyInstance> {
  const app = await buildApp({
    config: {
      LOG_LEVEL: 'silent',
      PUBLIC_BASE_URL: publicBaseUrl,
      TRUSTED_PROXIES: [],
      RATE_LIMIT_MAX: 1000,
      RATE_LIMIT_WINDOW_MS: 60_000,
      ...overrides,
    },
    urlService,
    registry: createRegistry('api-gateway'),
  })
  t.teardown(() => app.close())
  return app
}
