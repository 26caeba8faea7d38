/**
 * `pnpm --filter @zt/api-gateway bench`: what the gateway costs. Reads one
 * link (GET) straight from url-service over mTLS, then through the gateway
 * (validation, rate limit, mTLS client, response check), with the same
 * concurrency, and prints the ratio. Numbers depend on the machine; only
 * the ratio within one run means something.
 */
import { authorizeId, MtlsDispatcher } from '@zt/spiffe'
import { Agent, type Dispatcher, request } from 'undici'
import { ids, startChain } from '../src/testing.js'

const durationMs = Number(process.env.BENCH_MS ?? 5000)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16)
const cleanups: (() => unknown)[] = []
const scope = { teardown: (fn: () => unknown) => cleanups.push(fn) }

interface Result {
  perSecond: number
  p50: number
  p99: number
}

async function measure(url: string, dispatcher: Dispatcher): Promise<Result> {
  const latencies: number[] = []
  const end = performance.now() + durationMs
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now()
      const response = await request(url, { dispatcher })
      await response.body.dump()
      if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`)
      latencies.push(performance.now() - started)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  latencies.sort((a, b) => a - b)
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return { perSecond: latencies.length / (durationMs / 1000), p50: at(0.5), p99: at(0.99) }
}

try {
  const { gateway, urlService, pki } = await startChain(scope, {
    gatewayEnv: { RATE_LIMIT_MAX: '1000000000' },
  })
  // The direct path calls url-service as the gateway does, with its own SVID.
  const gatewaySource = await pki.source(ids.gateway)
  const created = await request(`${gateway.url}/api/urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/bench', alias: 'bench-link' }),
  })
  await created.body.dump()

  const mtls = new MtlsDispatcher(gatewaySource, { authorizer: authorizeId(ids.urlService) })
  const plain = new Agent()
  cleanups.push(
    () => mtls.close(),
    () => plain.close(),
  )

  // Warm both paths (connections, JIT) before measuring.
  await measure(`${urlService.url}/v1/urls/bench-link`, mtls)
  const direct = await measure(`${urlService.url}/v1/urls/bench-link`, mtls)
  const viaGateway = await measure(`${gateway.url}/api/urls/bench-link`, plain)
  const row = (name: string, r: Result) =>
    `${name.padEnd(34)} ${r.perSecond.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms`
  console.log(`GET one link, ${concurrency} concurrent, ${durationMs} ms each`)
  console.log(row('url-service direct (mTLS)', direct))
  console.log(row('through the gateway', viaGateway))
  console.log(
    `gateway throughput ratio: ${(viaGateway.perSecond / direct.perSecond).toFixed(2)} of direct; p50 ${(viaGateway.p50 / direct.p50).toFixed(2)}x`,
  )
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
