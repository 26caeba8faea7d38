import { join } from 'node:path'
import { freePort, ManagedProcess, waitForOk } from '@zt/devkit'
import { authorizeId, DirectorySource, MtlsDispatcher, SpiffeId } from '@zt/spiffe'
import { request } from 'undici'
import { call } from '../http.js'
import type { E2eStack } from '../stack.js'
import { createLink, gatewayTraffic, type LoadCount, loadUntil, sleep } from './load.js'

export interface SigtermResult {
  inFlight: number
  completed: number
  failures: string[]
  exitCode: number | null
}

/** Sends a burst, SIGTERMs `name` while it is in flight, then starts it again. */
export async function sigtermInFlight(
  stack: E2eStack,
  name: 'url-service' | 'api-gateway',
  burst: number,
): Promise<SigtermResult> {
  const alias = await createLink(stack.apiGatewayUrl, `term-${name}-${Date.now().toString(36)}`)
  const send = gatewayTraffic(stack.apiGatewayUrl, alias)
  const pending = Array.from({ length: burst }, (_, n) =>
    send(n).catch((error: unknown) => `network: ${String(error)}`),
  )
  // Let the requests reach the process, then ask it to stop.
  await sleep(5)
  const exited = stack.processes[name].stop('SIGTERM', 30_000)
  const results = await Promise.all(pending)
  const exitCode = await exited
  stack.processes[name].start()
  await stack.waitReady(name)
  const failures = results.filter((r): r is string => r !== undefined)
  return {
    inFlight: burst,
    completed: burst - failures.length,
    failures: failures.slice(0, 5),
    exitCode,
  }
}

export interface RoundRobinResult extends LoadCount {
  retried: number
  /** Answers that came with Connection: close from the closing instance. */
  closing: number
  perInstance: number[]
}

type Get = (url: string) => Promise<{ status: number; connection: string | null; body: string }>

/**
 * A copy of one of the stack's services on ports of its own, started and
 * ready; the caller stops it.
 */
async function secondInstance(
  stack: E2eStack,
  name: 'api-gateway' | 'url-service',
): Promise<{ process: ManagedProcess; port: number }> {
  const real = stack.processes[name].spec
  const [port, opsPort] = [await freePort(), await freePort()]
  const second = new ManagedProcess({
    ...real,
    env: { ...real.env, PORT: String(port), OPS_PORT: String(opsPort) },
  })
  second.start()
  try {
    await waitForOk(`http://127.0.0.1:${opsPort}/readyz`, {
      timeoutMs: 60_000,
      isAlive: () => second.running,
    })
  } catch (error) {
    await second.stop('SIGKILL', 5000)
    throw error
  }
  return { process: second, port }
}

/**
 * Two instances behind a round-robin client that moves on to the other
 * instance only when one refuses a connection (what a Service does once
 * readiness fails); any non-2xx answer is a failure. The second instance
 * gets SIGTERM a third into the run.
 */
async function roundRobinUntilSigterm(
  instances: [string, string],
  paths: string[],
  get: Get,
  victim: ManagedProcess,
  durationMs: number,
): Promise<RoundRobinResult> {
  const perInstance = [0, 0]
  let retried = 0
  let closing = 0
  const send = async (n: number) => {
    for (let attempt = 0; attempt < instances.length; attempt++) {
      const index = (n + attempt) % instances.length
      try {
        const answer = await get(`${instances[index]}${paths[n % paths.length]}`)
        // A closing instance still answers what reaches it (service-kit
        // turns off Fastify's bare 503 on closing), so any answer counts.
        if (answer.connection === 'close') closing++
        perInstance[index] = (perInstance[index] ?? 0) + 1
        return answer.status < 300
          ? undefined
          : `instance ${index}: HTTP ${answer.status} ${answer.body.slice(0, 100)}`
      } catch (error) {
        // Only idempotent GETs are sent, so trying the other instance is safe.
        retried++
        if (attempt === instances.length - 1) return `network: ${String(error)}`
      }
    }
    return 'unreachable'
  }
  const load = loadUntil(4, send, sleep(durationMs))
  await sleep(durationMs / 3)
  await victim.stop('SIGTERM', 30_000)
  const count = await load
  return { ...count, retried, closing, perInstance }
}

/** Two api-gateway instances; one gets SIGTERM mid-load. */
export async function roundRobinSigterm(
  stack: E2eStack,
  durationMs: number,
): Promise<RoundRobinResult> {
  const alias = await createLink(stack.apiGatewayUrl, `rr-${Date.now().toString(36)}`)
  const second = await secondInstance(stack, 'api-gateway')
  try {
    return await roundRobinUntilSigterm(
      [stack.apiGatewayUrl, `http://127.0.0.1:${second.port}`],
      [`/api/urls/${alias}`, '/api/urls?limit=3'],
      call,
      second.process,
      durationMs,
    )
  } finally {
    await second.process.stop('SIGTERM', 10_000)
  }
}

/**
 * Two url-service instances, called over SPIFFE mTLS with the api-gateway's
 * rotating SVID, as the gateway would; one gets SIGTERM mid-load.
 */
export async function roundRobinUrlServiceSigterm(
  stack: E2eStack,
  durationMs: number,
): Promise<RoundRobinResult> {
  const alias = await createLink(stack.apiGatewayUrl, `rru-${Date.now().toString(36)}`)
  const source = new DirectorySource({ dir: join(stack.svidDir, 'api-gateway') })
  await source.ready()
  const dispatcher = new MtlsDispatcher(source, {
    authorizer: authorizeId(
      SpiffeId.parse(`spiffe://${stack.trustDomain}/ns/services/sa/url-service`),
    ),
  })
  const second = await secondInstance(stack, 'url-service')
  const get: Get = async (url) => {
    const response = await request(url, {
      dispatcher,
      signal: AbortSignal.timeout(10_000),
    })
    const connection = response.headers.connection
    return {
      status: response.statusCode,
      connection: typeof connection === 'string' ? connection : null,
      body: await response.body.text(),
    }
  }
  try {
    return await roundRobinUntilSigterm(
      [stack.urlServiceUrl, `https://127.0.0.1:${second.port}`],
      [`/v1/urls/${alias}`, '/v1/urls?limit=3'],
      get,
      second.process,
      durationMs,
    )
  } finally {
    await second.process.stop('SIGTERM', 10_000)
    await dispatcher.close()
    await source.close()
  }
}
