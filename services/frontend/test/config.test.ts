import t from 'tap'
import { loadConfig } from '../src/config.js'

t.test('defaults follow the configuration contract', async (t) => {
  t.match(loadConfig({}), {
    PORT: 8080,
    OPS_PORT: 9080,
    HOST: '0.0.0.0',
    API_GATEWAY_URL: 'http://api-gateway.services.svc.cluster.local:8000',
    TRUSTED_PROXIES: [],
    DRAIN_DELAY_MS: 0,
    SHUTDOWN_TIMEOUT_MS: 25_000,
  })
})

t.test('the gateway URL must be http(s)', async (t) => {
  t.throws(() => loadConfig({ API_GATEWAY_URL: 'file:///etc/passwd' }), /API_GATEWAY_URL/)
  t.equal(
    loadConfig({ API_GATEWAY_URL: 'http://127.0.0.1:8000' }).API_GATEWAY_URL,
    'http://127.0.0.1:8000',
  )
})

t.test('trusted proxies are addresses or CIDR blocks', async (t) => {
  t.same(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8,::1' }).TRUSTED_PROXIES, ['10.0.0.0/8', '::1'])
  t.throws(() => loadConfig({ TRUSTED_PROXIES: '*' }), /TRUSTED_PROXIES/)
  t.throws(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/40' }), /TRUSTED_PROXIES/)
})
