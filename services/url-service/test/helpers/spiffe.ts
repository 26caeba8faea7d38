import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { authorizeId, DirectorySource, MtlsDispatcher, SpiffeId } from '@zt/spiffe'
import { DevTrustDomain, workloadDir } from '@zt/spiffe/dev-ca'
import { fetch, type RequestInit } from 'undici'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export const ids = {
  gateway: SpiffeId.parse('spiffe://zt.local/ns/services/sa/api-gateway'),
  urlService: SpiffeId.parse('spiffe://zt.local/ns/services/sa/url-service'),
  frontend: SpiffeId.parse('spiffe://zt.local/ns/public/sa/frontend'),
}

/**
 * A dev trust domain (zt.local) in a temporary directory with SVIDs for
 * url-service and the api-gateway, as the dev CA writes them. `env` points
 * url-service's SPIFFE_SVID_DIR at its folder; `client()` is the
 * api-gateway calling over mutual TLS.
 */
export async function devSpiffe(t: Teardownable, ttlMs = 3600_000) {
  const dir = await mkdtemp(join(tmpdir(), 'url-service-spiffe-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const trustDomain = await DevTrustDomain.open(dir, 'zt.local')
  await trustDomain.issue('url-service', ttlMs)
  await trustDomain.issue('api-gateway', ttlMs)
  return {
    dir,
    trustDomain,
    env: { TRUST_DOMAIN: 'zt.local', SPIFFE_SVID_DIR: workloadDir(dir, 'url-service') },
    /** The api-gateway's side: its SVID from the directory, talking only to url-service's ID. */
    async client() {
      const source = new DirectorySource({ dir: workloadDir(dir, 'api-gateway') })
      await source.ready()
      const dispatcher = new MtlsDispatcher(source, { authorizer: authorizeId(ids.urlService) })
      t.teardown(async () => {
        await dispatcher.close()
        await source.close()
      })
      return {
        source,
        dispatcher,
        fetch: (url: string, init: RequestInit = {}) => fetch(url, { ...init, dispatcher }),
      }
    },
  }
}
