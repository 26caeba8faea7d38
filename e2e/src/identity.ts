import { readFile } from 'node:fs/promises'
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { ApiGatewayEnv } from '@zt/contracts'
import { freePort, ManagedProcess, waitForOk } from '@zt/devkit'
import {
  type CertificateAuthority,
  createCertificateAuthority,
  loadCertificateAuthority,
  mintSvid,
} from '@zt/spiffe/dev-ca'
import { call } from './http.js'
import type { E2eStack } from './stack.js'

export interface Credentials {
  cert?: string
  key?: string
}

export interface Attempt {
  /** What was tried, in a learner's words. */
  tried: string
  /** refused: no HTTP answer at all; answered: an HTTP status came back. */
  outcome: 'refused' | 'answered'
  status?: number
  contentType?: string
  /** The client-side error or the problem title. */
  detail: string
  /** Which layer stopped it ("nobody" when it was answered with data). */
  stoppedBy: Layer
  /** The same, in a learner's words, with the server's reason when it logged one. */
  layer: string
}

/** url-service's layers, in the order a connection meets them. */
export type Layer = 'tls-handshake' | 'spiffe-verification' | 'route-authorizer' | 'nobody'

const svidFiles = (dir: string) => ({
  cert: join(dir, 'svid.pem'),
  key: join(dir, 'svid_key.pem'),
})

export async function readSvid(dir: string): Promise<Required<Credentials>> {
  const files = svidFiles(dir)
  return { cert: await readFile(files.cert, 'utf8'), key: await readFile(files.key, 'utf8') }
}

/**
 * One HTTPS request to url-service presenting `credentials`. The client
 * still verifies the server against the trust bundle; it skips only the
 * host name check, since SVIDs carry a SPIFFE ID instead of a DNS name.
 */
export function callUrlService(
  url: string,
  bundlePem: string,
  credentials: Credentials,
): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      `${url}/v1/urls?limit=1`,
      {
        ...credentials,
        ca: bundlePem,
        agent: false,
        checkServerIdentity: () => undefined,
        timeout: 5000,
      },
      (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => {
          body += chunk
        })
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: String(response.headers['content-type'] ?? ''),
            body,
          }),
        )
        response.on('error', reject)
      },
    )
    request.on('timeout', () => request.destroy(new Error('timed out')))
    request.on('error', reject)
    request.end()
  })
}

interface Attack {
  tried: string
  credentials: (ctx: AttackContext) => Promise<Credentials>
  /** The layer that must stop it: the test fails if another one does. */
  stoppedBy: Exclude<Layer, 'nobody'>
}

interface AttackContext {
  ca: CertificateAuthority
  trustDomain: string
}

const id = (td: string, path: string) => `spiffe://${td}${path}`

/**
 * A genuine SVID of the trust domain with another workload's ID: the
 * worker's, minted by the stack's own CA. The worker itself gets none (it
 * never uses one), so the attacks mint what SPIRE would issue had someone
 * registered it.
 */
export async function workerSvid(
  ca: CertificateAuthority,
  trustDomain: string,
): Promise<Required<Credentials>> {
  const svid = await mintSvid(ca, { id: id(trustDomain, '/ns/services/sa/worker') })
  return { cert: svid.certificatesPem, key: svid.keyPem }
}

/** The identity attacks of suite 1, each a client certificate someone might try. */
export const identityAttacks: Attack[] = [
  { tried: 'no client certificate', credentials: async () => ({}), stoppedBy: 'tls-handshake' },
  {
    tried: "a certificate from a foreign CA claiming the gateway's ID",
    stoppedBy: 'tls-handshake',
    credentials: async ({ trustDomain }) => {
      const foreign = await createCertificateAuthority({ trustDomain })
      const svid = await mintSvid(foreign, { id: id(trustDomain, '/ns/services/sa/api-gateway') })
      return { cert: svid.certificatesPem, key: svid.keyPem }
    },
  },
  {
    tried: "the right CA, the frontend's ID (spiffe://<td>/ns/public/sa/frontend)",
    stoppedBy: 'route-authorizer',
    credentials: async ({ ca, trustDomain }) => {
      const svid = await mintSvid(ca, { id: id(trustDomain, '/ns/public/sa/frontend') })
      return { cert: svid.certificatesPem, key: svid.keyPem }
    },
  },
  {
    tried: "a valid SVID with the worker's ID (the right CA, another workload's ID)",
    stoppedBy: 'route-authorizer',
    credentials: ({ ca, trustDomain }) => workerSvid(ca, trustDomain),
  },
  {
    tried: "an expired certificate with the gateway's ID",
    stoppedBy: 'tls-handshake',
    credentials: async ({ ca, trustDomain }) => {
      const svid = await mintSvid(ca, {
        id: id(trustDomain, '/ns/services/sa/api-gateway'),
        notBefore: new Date(Date.now() - 2 * 3600_000),
        notAfter: new Date(Date.now() - 3600_000),
      })
      return { cert: svid.certificatesPem, key: svid.keyPem }
    },
  },
  {
    tried: "two URI SANs (the gateway's ID and another)",
    stoppedBy: 'spiffe-verification',
    credentials: async ({ ca, trustDomain }) => {
      const svid = await mintSvid(ca, {
        uris: [
          id(trustDomain, '/ns/services/sa/api-gateway'),
          id(trustDomain, '/ns/services/sa/worker'),
        ],
      })
      return { cert: svid.certificatesPem, key: svid.keyPem }
    },
  },
  {
    tried: "a CA certificate used as a leaf, with the gateway's ID",
    stoppedBy: 'spiffe-verification',
    credentials: async ({ ca, trustDomain }) => {
      const svid = await mintSvid(ca, {
        id: id(trustDomain, '/ns/services/sa/api-gateway'),
        isCa: true,
      })
      return { cert: svid.certificatesPem, key: svid.keyPem }
    },
  },
  {
    tried: 'another trust domain (spiffe://evil.example/ns/services/sa/api-gateway, its own CA)',
    stoppedBy: 'tls-handshake',
    credentials: async () => {
      const other = await createCertificateAuthority({ trustDomain: 'evil.example' })
      const svid = await mintSvid(other, { id: 'spiffe://evil.example/ns/services/sa/api-gateway' })
      return { cert: svid.certificatesPem, key: svid.keyPem }
    },
  },
]

/** Stops url-service, changes its environment, starts it, waits until it is ready. */
export async function restartUrlService(
  stack: E2eStack,
  change: (env: Record<string, string | undefined>) => void,
): Promise<void> {
  const service = stack.processes['url-service']
  await service.stop('SIGTERM', 30_000)
  change(service.spec.env)
  service.start()
  await stack.waitReady('url-service')
}

/** The dev CA of a running stack, loaded from its state dir (tests may mint with it). */
export async function stackAuthority(stack: E2eStack): Promise<CertificateAuthority> {
  return loadCertificateAuthority(
    stack.trustDomain,
    await readFile(join(stack.svidDir, 'ca.pem'), 'utf8'),
    await readFile(join(stack.svidDir, 'ca-key.pem'), 'utf8'),
  )
}

/** OpenSSL errors are long and multi-line; the alert name is what a reader needs. */
function tlsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.match(/tlsv1\d? alert [a-z ]+/)?.[0] ?? message.split('\n')[0] ?? message
}

export async function attempt(
  stack: E2eStack,
  tried: string,
  credentials: Credentials,
): Promise<Attempt> {
  const bundle = await readFile(join(stack.svidDir, 'url-service', 'bundle.pem'), 'utf8')
  const mark = stack.logs.length
  try {
    const answer = await callUrlService(stack.urlServiceUrl, bundle, credentials)
    const title = (() => {
      try {
        const problem = JSON.parse(answer.body) as { detail?: unknown }
        return typeof problem.detail === 'string' ? problem.detail : ''
      } catch {
        return ''
      }
    })()
    return {
      tried,
      outcome: 'answered',
      status: answer.status,
      contentType: answer.contentType,
      detail: title,
      stoppedBy: answer.status === 403 ? 'route-authorizer' : 'nobody',
      layer:
        answer.status === 403
          ? 'url-service route authorizer (installSpiffe: this ID may not call this route)'
          : 'nobody',
    }
  } catch (error) {
    // Give the server a moment to log why it dropped the connection.
    await new Promise((resolve) => setTimeout(resolve, 150))
    const refusal = stack
      .linesSince(mark, 'url-service')
      .find((line) => line.includes('mTLS peer refused'))
    const reason = refusal?.match(/reason="?([^"]*)"?/)?.[1]
    return {
      tried,
      outcome: 'refused',
      detail: tlsMessage(error),
      stoppedBy: refusal ? 'spiffe-verification' : 'tls-handshake',
      layer: refusal
        ? `url-service SPIFFE verification after the handshake (attachMtls: ${reason ?? 'refused'}); connection destroyed`
        : 'url-service TLS handshake (OpenSSL: client certificate missing or not chained to the trust bundle)',
    }
  }
}

/** Runs the control (the gateway's real SVID) and every attack against url-service. */
export async function runIdentityAttacks(stack: E2eStack): Promise<{
  control: Attempt
  attacks: Array<Attempt & { expected: Layer }>
}> {
  const context: AttackContext = {
    ca: await stackAuthority(stack),
    trustDomain: stack.trustDomain,
  }
  const control = await attempt(
    stack,
    "control: the gateway's own SVID",
    await readSvid(join(stack.svidDir, 'api-gateway')),
  )
  const attacks: Array<Attempt & { expected: Layer }> = []
  for (const attack of identityAttacks) {
    const result = await attempt(stack, attack.tried, await attack.credentials(context))
    attacks.push({ ...result, expected: attack.stoppedBy })
  }
  return { control, attacks }
}

export function describe(a: Attempt): string {
  const what =
    a.outcome === 'refused'
      ? `no answer (${a.detail})`
      : `HTTP ${a.status} ${(a.contentType ?? '').split(';')[0]}${a.detail ? ` "${a.detail}"` : ''}`
  return `${a.tried}\n    -> ${what}\n    stopped by: ${a.layer}`
}

export interface ImpostorResult {
  status: number
  contentType: string
  body: string
  /** HTTP requests the impostor received: any at all means data reached it. */
  requestsSeen: number
  /** TCP connections the gateway opened to it: proof that it tried. */
  connections: number
  /** Why the gateway refused, from its log. */
  reason: string
}

/**
 * A fake url-service: a TLS server presenting a valid SVID with the worker's
 * ID (same CA, wrong ID), answering every request with data. A second api-gateway,
 * configured exactly like the stack's but pointed at the impostor, is asked
 * to create and read links; it must refuse the server and never send it data.
 */
export async function runImpostorUrlService(
  stack: E2eStack,
  /** Extra gateway environment; the identity suite uses it to show the check failing. */
  gatewayEnv: ApiGatewayEnv = {},
): Promise<ImpostorResult> {
  const worker = await workerSvid(await stackAuthority(stack), stack.trustDomain)
  const bundle = await readFile(join(stack.svidDir, 'url-service', 'bundle.pem'), 'utf8')
  let requestsSeen = 0
  let connections = 0
  const impostor = createHttpsServer(
    { ...worker, ca: bundle, requestCert: true, rejectUnauthorized: true },
    (_request, response) => {
      requestsSeen++
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(
        JSON.stringify({
          code: 'stolen',
          url: 'https://evil.example/',
          createdAt: new Date().toISOString(),
          expiresAt: null,
          clicks: 0,
          lastClickedAt: null,
        }),
      )
    },
  )
  impostor.on('connection', () => connections++)
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve))
  const impostorPort = (impostor.address() as AddressInfo).port
  const real = stack.processes['api-gateway'].spec
  const [port, opsPort] = [await freePort(), await freePort()]
  const gateway = new ManagedProcess({
    ...real,
    name: 'api-gateway',
    env: {
      ...real.env,
      PORT: String(port),
      OPS_PORT: String(opsPort),
      URL_SERVICE_URL: `https://127.0.0.1:${impostorPort}`,
      ...gatewayEnv,
    },
  })
  gateway.start()
  try {
    await waitForOk(`http://127.0.0.1:${opsPort}/healthz`, {
      timeoutMs: 60_000,
      isAlive: () => gateway.running,
    })
    const mark = stack.logs.length
    const answer = await call(`http://127.0.0.1:${port}/api/urls/stolen`)
    const logged = stack
      .linesSince(mark, 'api-gateway')
      .find((line) => /spiffe|SPIFFE|refus|not authorized|url-service/.test(line))
    return {
      status: answer.status,
      contentType: answer.contentType,
      body: answer.body,
      requestsSeen,
      connections,
      reason: logged ?? '(no log line)',
    }
  } finally {
    await gateway.stop('SIGTERM', 10_000)
    await new Promise((resolve) => impostor.close(resolve))
  }
}
