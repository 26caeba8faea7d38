import { ConfigError } from '@zt/service-kit'
import t from 'tap'
import { loadConfig } from '../src/config.js'

const minimal = {
  TRUST_DOMAIN: 'zt.local',
  SPIFFE_SVID_DIR: '/svid',
  PUBLIC_BASE_URL: 'https://sho.rt/',
}

t.test('defaults follow the configuration contract', async (t) => {
  const config = loadConfig(minimal)
  t.match(config, {
    PORT: 8000,
    OPS_PORT: 9000,
    HOST: '0.0.0.0',
    URL_SERVICE_URL: 'https://url-service.services.svc.cluster.local:8443',
    PUBLIC_BASE_URL: 'https://sho.rt',
    TRUSTED_PROXIES: [],
    RATE_LIMIT_MAX: 100,
    RATE_LIMIT_WINDOW_MS: 60_000,
    UPSTREAM_TIMEOUT_MS: 2000,
    DRAIN_DELAY_MS: 0,
    SHUTDOWN_TIMEOUT_MS: 25_000,
  })
  t.equal(String(config.URL_SERVICE_ID), 'spiffe://zt.local/ns/services/sa/url-service')
  t.equal(config.TRUST_DOMAIN.name, 'zt.local')
})

t.test('trusted proxies are addresses or CIDR blocks', async (t) => {
  const config = loadConfig({ ...minimal, TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' })
  t.same(config.TRUSTED_PROXIES, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'])
  for (const bad of ['*', '10.0.0.0/33', 'loopback', '10.0.0.0/8/1', 'example.com']) {
    t.throws(() => loadConfig({ ...minimal, TRUSTED_PROXIES: bad }), /TRUSTED_PROXIES/, bad)
  }
})

t.test('every problem is reported at once, by variable name', async (t) => {
  try {
    loadConfig({
      TRUST_DOMAIN: 'Not A Domain',
      SPIFFE_SVID_DIR: '/svid',
      SPIFFE_ENDPOINT_SOCKET: 'unix:///sock',
      URL_SERVICE_URL: 'http://url-service:8443',
      URL_SERVICE_ID: 'url-service',
      PUBLIC_BASE_URL: 'javascript:alert(1)',
      RATE_LIMIT_MAX: '0',
    })
    t.fail('should throw')
  } catch (error) {
    t.type(error, ConfigError)
    const text = (error as ConfigError).issues.join('\n')
    for (const name of [
      'TRUST_DOMAIN',
      'URL_SERVICE_URL',
      'URL_SERVICE_ID',
      'PUBLIC_BASE_URL',
      'RATE_LIMIT_MAX',
    ]) {
      t.match(text, name)
    }
  }
  t.throws(
    () => loadConfig({ ...minimal, SPIFFE_ENDPOINT_SOCKET: 'unix:///sock' }),
    /exactly one of SPIFFE_ENDPOINT_SOCKET or SPIFFE_SVID_DIR/,
  )
  t.throws(
    () => loadConfig({ TRUST_DOMAIN: 'zt.local', PUBLIC_BASE_URL: 'https://sho.rt' }),
    /exactly one/,
  )
  t.throws(() => loadConfig({ ...minimal, PUBLIC_BASE_URL: undefined }), /PUBLIC_BASE_URL/)
})
