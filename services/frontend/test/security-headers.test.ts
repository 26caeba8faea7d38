import { createRegistry } from '@zt/service-kit'
import realHelmet from 'helmet'
import t from 'tap'
import type * as AppModule from '../src/app.js'
import { testAssets } from './helpers/app.js'

t.test('the security-header middleware is built once, not per request', async (t) => {
  let built = 0
  const counting = Object.assign((...args: Parameters<typeof realHelmet>) => {
    built++
    return realHelmet(...args)
  }, realHelmet)
  const { buildApp } = await t.mockImport<typeof AppModule>('../src/app.js', {
    helmet: counting,
  })
  const app = await buildApp({
    config: { LOG_LEVEL: 'silent', API_GATEWAY_URL: 'http://127.0.0.1:9', TRUSTED_PROXIES: [] },
    assetsRoot: (await testAssets()).root,
    registry: createRegistry('frontend'),
  })
  t.teardown(() => app.close())
  for (const path of ['/', '/app.js', '/nope', '/r/abc', '/api/urls']) {
    const res = await app.inject(path)
    t.match(res.headers['content-security-policy'], /default-src 'self'/, path)
    t.equal(res.headers['x-frame-options'], 'DENY', path)
  }
  t.equal(built, 1)
})
