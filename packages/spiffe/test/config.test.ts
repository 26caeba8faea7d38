import t from 'tap'
import { z } from 'zod'
import { SpiffeId, spiffeEnv, spiffeIdSetting, TrustDomain } from '../src/index.js'

const issues = (schema: z.ZodType, input: unknown) => {
  const result = schema.safeParse(input)
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
}

t.test('parses the trust domain and the source settings', async (t) => {
  const value = spiffeEnv.parse({
    TRUST_DOMAIN: ' zt.local ',
    SPIFFE_SVID_DIR: '/svid',
    OTHER: 'x',
  })
  t.ok(value.TRUST_DOMAIN instanceof TrustDomain)
  t.equal(value.TRUST_DOMAIN.name, 'zt.local')
  t.same(value, { TRUST_DOMAIN: value.TRUST_DOMAIN, SPIFFE_SVID_DIR: '/svid' })
  t.equal(
    spiffeEnv.parse({
      TRUST_DOMAIN: 'zt.local',
      SPIFFE_ENDPOINT_SOCKET: 'unix:///a.sock',
      SPIFFE_SVID_DIR: '',
    }).SPIFFE_ENDPOINT_SOCKET,
    'unix:///a.sock',
    'blank counts as unset',
  )
})

t.test('refuses what createX509Source would, with the same words', async (t) => {
  t.same(issues(spiffeEnv, { TRUST_DOMAIN: 'zt.local' }), [
    'SPIFFE_ENDPOINT_SOCKET: set exactly one of SPIFFE_ENDPOINT_SOCKET or SPIFFE_SVID_DIR: neither is set (SPIFFE_ENDPOINT_SOCKET: the Workload API; SPIFFE_SVID_DIR: PEM files)',
  ])
  t.match(
    issues(spiffeEnv, {
      TRUST_DOMAIN: 'zt.local',
      SPIFFE_SVID_DIR: '/s',
      SPIFFE_ENDPOINT_SOCKET: 'unix:///a',
    }),
    [/SPIFFE_ENDPOINT_SOCKET: set exactly one of .* not both/],
  )
  for (const bad of ['Not A Domain', 'spiffe://zt.local', 'zt.local:443', '']) {
    t.match(
      issues(spiffeEnv, { TRUST_DOMAIN: bad, SPIFFE_SVID_DIR: '/s' }),
      [/^TRUST_DOMAIN: must be a SPIFFE trust domain/],
      bad,
    )
  }
  t.match(issues(spiffeEnv, { SPIFFE_SVID_DIR: '/s' }), [/^TRUST_DOMAIN: /])
})

t.test('composes with a service schema, every problem reported at once', async (t) => {
  const service = z.intersection(z.object({ PORT: z.coerce.number().int() }), spiffeEnv)
  t.match(service.parse({ PORT: '8000', TRUST_DOMAIN: 'zt.local', SPIFFE_SVID_DIR: '/s' }), {
    PORT: 8000,
    SPIFFE_SVID_DIR: '/s',
  })
  const found = issues(service, { PORT: 'x', TRUST_DOMAIN: 'Bad' })
  t.match(found.join('\n'), /PORT/)
  t.match(found.join('\n'), /TRUST_DOMAIN/)
})

t.test('spiffeIdSetting parses a SPIFFE ID', async (t) => {
  const id = spiffeIdSetting.parse('spiffe://zt.local/ns/services/sa/url-service')
  t.ok(id instanceof SpiffeId)
  t.equal(String(id), 'spiffe://zt.local/ns/services/sa/url-service')
  for (const bad of ['url-service', 'spiffe://zt.local/ns//sa/x', 'https://zt.local/x']) {
    t.match(issues(spiffeIdSetting, bad), [/must be a SPIFFE ID/], bad)
  }
})
