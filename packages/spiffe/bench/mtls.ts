/**
 * Cost of the SPIFFE mTLS hop: the same request over plain HTTP and over
 * mTLS (MtlsDispatcher -> Fastify + installSpiffe), in one run, through
 * undici keep-alive. The server runs in a child process so client and server
 * CPU are measured apart (process.cpuUsage).
 *
 *   pnpm --filter @zt/spiffe bench:mtls [-- --seconds 5 --concurrency 16 --rate 1000]
 */
import { type ChildProcess, fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Agent, type Dispatcher, request } from 'undici'
import { DevTrustDomain, workloadDir, workloadId } from '../src/dev-ca.js'
import { authorizeId, DirectorySource, MtlsDispatcher } from '../src/index.js'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    rate: { type: 'string', default: '500' },
    only: { type: 'string' },
  },
})
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const concurrency = Number(values.concurrency)
const rate = Number(values.rate)

interface Result {
  name: string
  requests: number
  errors: number
  rps: number
  p50: number
  p90: number
  p99: number
  clientCpuPer1000: number
  serverCpuPer1000: number
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

function serverCpu(child: ChildProcess): Promise<NodeJS.CpuUsage> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (typeof message === 'object' && message && 'cpu' in message) {
        child.off('message', onMessage)
        resolve((message as { cpu: NodeJS.CpuUsage }).cpu)
      }
    }
    child.on('message', onMessage)
    child.send('cpu')
  })
}

const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6

async function once(url: string, dispatcher: Dispatcher, latencies: number[]): Promise<boolean> {
  const start = performance.now()
  try {
    const response = await request(url, { dispatcher })
    await response.body.dump()
    latencies.push(performance.now() - start)
    return response.statusCode === 200
  } catch {
    return false
  }
}

/** Closed loop: `concurrency` workers back to back, as fast as the hop allows. */
async function closedLoop(url: string, dispatcher: Dispatcher, latencies: number[], until: number) {
  let errors = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) if (!(await once(url, dispatcher, latencies))) errors++
    }),
  )
  return errors
}

/** Open loop at a fixed rate: latency of the hop when it is not saturated. */
async function fixedRate(url: string, dispatcher: Dispatcher, latencies: number[], until: number) {
  let errors = 0
  const inFlight: Promise<void>[] = []
  const start = performance.now()
  for (let i = 0; ; i++) {
    const at = start + (i * 1000) / rate
    if (at >= until) break
    const wait = at - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    inFlight.push(
      once(url, dispatcher, latencies).then((ok) => {
        if (!ok) errors++
      }),
    )
  }
  await Promise.all(inFlight)
  return errors
}

async function measure(
  name: string,
  url: string,
  dispatcher: Dispatcher,
  child: ChildProcess,
  mode: 'closed' | 'rate',
): Promise<Result> {
  const run = mode === 'closed' ? closedLoop : fixedRate
  await run(url, dispatcher, [], performance.now() + 1000) // warm-up: connections, JIT
  const latencies: number[] = []
  const clientBefore = process.cpuUsage()
  const serverBefore = await serverCpu(child)
  const started = performance.now()
  const errors = await run(url, dispatcher, latencies, started + seconds * 1000)
  const elapsed = (performance.now() - started) / 1000
  const clientCpu = cpuSeconds(process.cpuUsage(clientBefore))
  const serverAfter = await serverCpu(child)
  const serverCpuUsed =
    (serverAfter.user - serverBefore.user + serverAfter.system - serverBefore.system) / 1e6
  latencies.sort((a, b) => a - b)
  const requests = latencies.length
  return {
    name,
    requests,
    errors,
    rps: requests / elapsed,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    clientCpuPer1000: (clientCpu / requests) * 1000,
    serverCpuPer1000: (serverCpuUsed / requests) * 1000,
  }
}

const root = await mkdtemp(join(tmpdir(), 'zt-bench-'))
const domain = await DevTrustDomain.open(root, 'zt.local')
await domain.issue('api-gateway', 3600_000)
await domain.issue('url-service', 3600_000)
const clientSource = new DirectorySource({ dir: workloadDir(root, 'api-gateway') })
await clientSource.ready()

const child = fork(new URL('./server.ts', import.meta.url), {
  execArgv: ['--conditions=zt-source', '--import=tsx'],
  env: {
    ...process.env,
    BENCH_SVID_DIR: workloadDir(root, 'url-service'),
    BENCH_CALLER_ID: String(workloadId(domain.trustDomain, 'api-gateway')),
  },
})
type Ports = { plainPort: number; mtlsPort: number; h2Port: number; aes128Port: number }
const ports = await new Promise<Ports>((resolve) =>
  child.once('message', (message) => resolve(message as Ports)),
)
const h2Url = `https://127.0.0.1:${ports.h2Port}/`
const aes128Url = `https://127.0.0.1:${ports.aes128Port}/`
const plainUrl = `http://127.0.0.1:${ports.plainPort}/`
const mtlsUrl = `https://127.0.0.1:${ports.mtlsPort}/`
const urlServiceId = workloadId(domain.trustDomain, 'url-service')
const mtls = (agentOptions: ConstructorParameters<typeof Agent>[0] = {}) =>
  new MtlsDispatcher(clientSource, { authorizer: authorizeId(urlServiceId), agentOptions })

const scenarios: [string, string, () => Dispatcher, 'closed' | 'rate'][] = [
  // A bounded pool: with unlimited connections an open loop that outpaces
  // the server opens a new connection (a full handshake) per queued request.
  [`plain, ${rate} req/s`, plainUrl, () => new Agent({ connections: 8 }), 'rate'],
  [`mTLS, ${rate} req/s`, mtlsUrl, () => mtls({ connections: 8 }), 'rate'],
  [
    `plain, saturated c=${concurrency}`,
    plainUrl,
    () => new Agent({ connections: concurrency }),
    'closed',
  ],
  [`mTLS, saturated c=${concurrency}`, mtlsUrl, () => mtls({ connections: concurrency }), 'closed'],
  [
    `mTLS AES-128-GCM, saturated c=${concurrency}`,
    aes128Url,
    () => mtls({ connections: concurrency }),
    'closed',
  ],
  [`mTLS, saturated, 4 connections`, mtlsUrl, () => mtls({ connections: 4 }), 'closed'],
  [
    `mTLS, saturated, 4 connections x pipelining 4`,
    mtlsUrl,
    () => mtls({ connections: 4, pipelining: 4 }),
    'closed',
  ],
  [
    `mTLS HTTP/2, saturated, 1 connection x 16 streams`,
    h2Url,
    () => mtls({ allowH2: true, connections: 1, pipelining: 16 }),
    'closed',
  ],
  [
    `mTLS HTTP/2, saturated, 2 connections x 16 streams`,
    h2Url,
    () => mtls({ allowH2: true, connections: 2, pipelining: 16 }),
    'closed',
  ],
  [
    `plain, saturated, 4 connections x pipelining 4`,
    plainUrl,
    () => new Agent({ connections: 4, pipelining: 4 }),
    'closed',
  ],
]

// Scenarios run interleaved, round after round, and each figure is the
// median over rounds: on a shared machine the background load drifts, and
// running all plain scenarios first would charge the drift to one side.
const perRound = new Map<string, Result[]>()
for (let round = 0; round < rounds; round++) {
  for (const [name, url, make, mode] of scenarios) {
    if (values.only && !name.includes(values.only)) continue
    const dispatcher = make()
    const result = await measure(name, url, dispatcher, child, mode)
    await dispatcher.close()
    perRound.set(name, [...(perRound.get(name) ?? []), result])
  }
}
const median = (list: Result[], pick: (r: Result) => number) => {
  const sorted = list.map(pick).sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}
const results: Result[] = [...perRound].map(([name, list]) => ({
  name,
  requests: list.reduce((sum, r) => sum + r.requests, 0),
  errors: list.reduce((sum, r) => sum + r.errors, 0),
  rps: median(list, (r) => r.rps),
  p50: median(list, (r) => r.p50),
  p90: median(list, (r) => r.p90),
  p99: median(list, (r) => r.p99),
  clientCpuPer1000: median(list, (r) => r.clientCpuPer1000),
  serverCpuPer1000: median(list, (r) => r.serverCpuPer1000),
}))

child.send('stop')
await clientSource.close()
await rm(root, { recursive: true, force: true })

const f = (n: number, digits = 2) => n.toFixed(digits)
console.log(
  `\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadavg()
    .map((l) => f(l, 1))
    .join(' ')}`,
)
console.log(
  `${rounds} interleaved rounds of ${seconds}s per scenario after 1s warm-up, medians over rounds; CPU = user+system seconds per 1000 requests\n`,
)
console.log(
  '| scenario | req/s | p50 ms | p90 ms | p99 ms | client CPU s/1000 | server CPU s/1000 | errors |',
)
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
for (const r of results) {
  console.log(
    `| ${r.name} | ${f(r.rps, 0)} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${f(r.clientCpuPer1000, 3)} | ${f(r.serverCpuPer1000, 3)} | ${r.errors} |`,
  )
}
const pair = (a: string, b: string) => {
  const plain = results.find((r) => r.name === a)
  const secure = results.find((r) => r.name === b)
  if (!plain || !secure) return
  const extraCpu =
    secure.clientCpuPer1000 +
    secure.serverCpuPer1000 -
    plain.clientCpuPer1000 -
    plain.serverCpuPer1000
  console.log(
    `\n${b} vs ${a}: extra vCPU per 1000 req/s = ${f(extraCpu, 3)} (goal <= 0.06; client ${f(secure.clientCpuPer1000 - plain.clientCpuPer1000, 3)}, server ${f(secure.serverCpuPer1000 - plain.serverCpuPer1000, 3)}), ` +
      `added p90 = ${f(secure.p90 - plain.p90, 3)} ms (goal <= 0.2), p50 ${f(secure.p50 - plain.p50, 3)} ms, throughput ratio ${f(secure.rps / plain.rps)}`,
  )
}
pair(`plain, ${rate} req/s`, `mTLS, ${rate} req/s`)
pair(`plain, saturated c=${concurrency}`, `mTLS, saturated c=${concurrency}`)
pair(
  `plain, saturated, 4 connections x pipelining 4`,
  `mTLS, saturated, 4 connections x pipelining 4`,
)
