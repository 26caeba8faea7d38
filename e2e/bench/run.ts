/**
 * `pnpm bench`: load through frontend -> api-gateway -> url-service on the
 * same stack `pnpm dev` runs (the built dist/*.js with plain node, as the
 * images run it; BENCH_SOURCE=1 for the TypeScript sources through tsx),
 * against a bare Fastify hello-world, a plain-HTTP hop and the same hop over
 * SPIFFE mTLS measured in the same run. Prints requests per second, latency
 * percentiles, CPU seconds per 1000 requests, TCP connections opened and
 * closed per hop, memory per process, SQS messages and idempotency records
 * per 1000 redirects, then the redirect again on fresh stacks loaded at
 * the same time (tracing off, at the chart's default 10% and at 100%
 * sampling, and request logging at info), and ends with the
 * goals of issues 14 and 17, each measured against a baseline of the same
 * run. Not a test: nothing asserted.
 */
import { readFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { freePort, ManagedProcess, waitForOk } from '@zt/devkit'
import autocannon from 'autocannon'
import pg from 'pg'
import { postJson } from '../src/http.js'
import { commandLine, descendants } from '../src/processes.js'
import { repoRoot } from '../src/root.js'
import { startE2eStack } from '../src/stack.js'
import { measureCosts } from './cost.js'
import { cpuSeconds, median } from './measure.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 6)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const out = (line = '') => process.stdout.write(`${line}\n`)
function rssMb(pid: number): number {
  try {
    const kb = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1])
    return kb / 1024
  } catch {
    return 0
  }
}

/**
 * TCP connections to a port from /proc/net/tcp: established, and in
 * TIME_WAIT (closed within the last minute). A client that opened a
 * connection per request would leave thousands in TIME_WAIT.
 */
function tcpConnections(port: number): { established: number; closed: number } {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  let established = 0
  let closed = 0
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/)
    // Count each connection once, by its client end (remote = the port).
    if (!remote?.endsWith(`:${hex}`) || local?.endsWith(`:${hex}`)) continue
    if (state === '01') established++
    if (state === '06') closed++
  }
  return { established, closed }
}

/** Anonymous (private) memory: RSS without the node binary and libraries, which every process maps and shares. */
function anonMb(pid: number): number {
  try {
    const kb = Number(
      readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Anonymous:\s+(\d+)/m)?.[1],
    )
    return kb / 1024
  } catch {
    return 0
  }
}

interface Run {
  name: string
  rps: number
  p50: number
  p90: number
  p99: number
  total: number
  errors: number
  statuses: string
  cpuPer1000: Record<string, number>
  rss: Record<string, number>
}

async function measure(
  name: string,
  processes: () => Record<string, number[]>,
  options: autocannon.Options,
  hops: Record<string, number> = {},
): Promise<Run> {
  const closedBefore = Object.fromEntries(
    Object.entries(hops).map(([hop, port]) => [hop, tcpConnections(port).closed]),
  )
  const pids = processes()
  const before = Object.fromEntries(
    Object.entries(pids).map(([n, list]) => [n, list.reduce((s, p) => s + cpuSeconds(p), 0)]),
  )
  const result = await autocannon({ connections, duration: seconds, ...options })
  const total = result.requests.total
  const connectionReport = Object.entries(hops).map(([hop, port]) => {
    const now = tcpConnections(port)
    return `${hop} ${now.established} open, ${now.closed - (closedBefore[hop] ?? 0)} closed`
  })
  const after = processes()
  const cpuPer1000 = Object.fromEntries(
    Object.entries(after).map(([n, list]) => [
      n,
      ((list.reduce((s, p) => s + cpuSeconds(p), 0) - (before[n] ?? 0)) / Math.max(total, 1)) *
        1000,
    ]),
  )
  const rss = Object.fromEntries(
    Object.entries(after).map(([n, list]) => [n, list.reduce((s, p) => s + rssMb(p), 0)]),
  )
  const run: Run = {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    total,
    errors: result.errors + result.timeouts,
    statuses: Object.entries(result.statusCodeStats ?? {})
      .map(([code, s]) => `${code}x${s.count ?? 0}`)
      .join(' '),
    cpuPer1000,
    rss,
  }
  out(
    `${name.padEnd(44)} ${run.rps.toFixed(0).padStart(6)} rps  p50 ${run.p50} ms  p90 ${run.p90} ms  p99 ${run.p99} ms  (${total} requests, ${run.errors} errors, ${run.statuses})`,
  )
  out(
    `${''.padEnd(44)} CPU s/1000 req: ${Object.entries(cpuPer1000)
      .map(([n, v]) => `${n} ${v.toFixed(3)}`)
      .join(', ')}`,
  )
  if (connectionReport.length > 0)
    out(`${''.padEnd(44)} TCP connections during the run: ${connectionReport.join('; ')}`)
  return run
}

/**
 * Where a process's anonymous memory is: V8's heap spaces as reserved (the
 * young generation is "new") and the memory outside the heap, from the
 * Node.js metrics every ops port serves (the hello-world's /heap).
 */
async function heapSpaces(url: string): Promise<string> {
  const metrics = await (await fetch(url)).text()
  const mb = (pattern: RegExp) => Number(metrics.match(pattern)?.[1] ?? 0) / 2 ** 20
  const space = (name: string) =>
    mb(new RegExp(`^nodejs_heap_space_size_total_bytes\\{[^}]*space="${name}"[^}]*\\} (\\S+)`, 'm'))
  return [
    `heap: new ${space('new').toFixed(1)}`,
    `old ${space('old').toFixed(1)}`,
    `code ${space('code').toFixed(1)}`,
    `large ${space('large_object').toFixed(1)}`,
    `total ${mb(/^nodejs_heap_size_total_bytes(?:\{[^}]*\})? (\S+)/m).toFixed(1)}`,
    `used ${mb(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m).toFixed(1)}`,
    `external ${mb(/^nodejs_external_memory_bytes(?:\{[^}]*\})? (\S+)/m).toFixed(1)}`,
  ].join(', ')
}

interface EventCounts {
  messages: number
  records: number
  clicks: number
}

/**
 * What the clicks cost downstream: SQS messages url-service's relay sent
 * (its events_outbox_sent_total), idempotency records the worker kept
 * (processed_events rows), and the clicks counted on the bench link.
 */
async function eventCounts(db: pg.Client, opsPort: number, alias: string): Promise<EventCounts> {
  const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text()
  const { rows } = await db.query<{ records: number; clicks: number }>(
    `select (select count(*) from processed_events)::int as records,
            (select clicks from urls where code = $1)::int as clicks`,
    [alias],
  )
  return {
    messages: Number(metrics.match(/^events_outbox_sent_total(?:\{[^}]*\})? (\d+)/m)?.[1]),
    records: rows[0]?.records ?? 0,
    clicks: rows[0]?.clicks ?? 0,
  }
}

/** Waits (up to 30 s) until the outbox is empty and the click count stopped moving. */
async function settled(db: pg.Client, opsPort: number, alias: string): Promise<EventCounts> {
  const deadline = Date.now() + 30_000
  let last = await eventCounts(db, opsPort, alias)
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 750))
    const now = await eventCounts(db, opsPort, alias)
    const { rows } = await db.query<{ n: number }>('select count(*)::int as n from event_outbox')
    if (rows[0]?.n === 0 && now.clicks === last.clicks && now.records === last.records) return now
    last = now
  }
  return last
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
out(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; ${seconds} s per run, ${connections} connections; load average ${load()}`,
)
// The images run the compiled dist/*.js with plain node; that is what is
// measured unless BENCH_SOURCE=1 asks for the TypeScript sources via tsx.
const compiled = process.env.BENCH_SOURCE !== '1'
out(
  `starting the stack (same startStack as pnpm dev; ${compiled ? 'compiled dist/*.js with plain node, run `pnpm build` first' : 'sources via tsx'}; LOG_LEVEL=warn, rate limit lifted)...`,
)
// BENCH_PROFILE=<service> writes a V8 CPU profile of that process to
// BENCH_PROFILE_DIR (default /tmp/zt-bench-profile) when the stack stops.
const profiled = process.env.BENCH_PROFILE as 'frontend' | 'api-gateway' | 'url-service' | undefined
// BENCH_NODE_ARGS: Node flags for the four services (not the baselines), to
// compare a runtime setting such as --max-semi-space-size against the default.
const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []
const serviceNames = ['frontend', 'api-gateway', 'url-service', 'worker'] as const
const stack = await startE2eStack({
  logLevel: 'warn',
  compiled,
  env: { 'api-gateway': { RATE_LIMIT_MAX: '100000000' } },
  nodeArgs: Object.fromEntries(
    serviceNames.map((name) => [
      name,
      [
        ...nodeArgs,
        ...(name === profiled
          ? [
              '--cpu-prof',
              `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR ?? '/tmp/zt-bench-profile'}`,
            ]
          : []),
      ],
    ]),
  ),
})
if (nodeArgs.length > 0) out(`services run with: ${nodeArgs.join(' ')}`)
const baselines: ManagedProcess[] = []
const db = new pg.Client({ connectionString: stack.databaseUrl })
try {
  const helloPort = await freePort()
  const hopPort = await freePort()
  const baseline = (args: string[]) =>
    new ManagedProcess({
      name: 'baseline',
      cwd: `${repoRoot}/e2e`,
      entry: 'bench/baseline.ts',
      args,
      env: { NODE_ENV: 'production' },
      output: (_n, line) => out(`baseline: ${line}`),
    })
  const helloMtlsPort = await freePort()
  const hopMtlsPort = await freePort()
  const hello = baseline(['hello', String(helloPort)])
  const hop = baseline(['hop', String(hopPort), `http://127.0.0.1:${helloPort}`])
  // The stack's own dev SVIDs: url-service's for the server, the gateway's for the client.
  const helloMtls = baseline(['hello-mtls', String(helloMtlsPort), `${stack.svidDir}/url-service`])
  const hopMtls = baseline([
    'hop-mtls',
    String(hopMtlsPort),
    `https://127.0.0.1:${helloMtlsPort}`,
    `${stack.svidDir}/api-gateway`,
  ])
  baselines.push(hello, hop, helloMtls, hopMtls)
  for (const p of baselines) p.start()
  await waitForOk(`http://127.0.0.1:${helloPort}/`, { timeoutMs: 30_000 })
  await waitForOk(`http://127.0.0.1:${hopPort}/`, { timeoutMs: 30_000 })
  await waitForOk(`http://127.0.0.1:${hopMtlsPort}/`, { timeoutMs: 30_000 })

  const pid = (p: ManagedProcess) => (p.pid === undefined ? [] : [p.pid])
  const postgresPids = () =>
    descendants(process.pid).filter((p) => /^postgres|\/postgres /.test(commandLine(p)))
  const services = () => ({
    frontend: pid(stack.processes.frontend),
    'api-gateway': pid(stack.processes['api-gateway']),
    'url-service': pid(stack.processes['url-service']),
    worker: pid(stack.processes.worker),
    postgres: postgresPids(),
  })

  await db.connect()
  const opsPort = stack.ports.urlServiceOps
  const alias = `bench-${Date.now().toString(36)}`
  const created = await postJson(`${stack.apiGatewayUrl}/api/urls`, {
    url: 'https://example.com/bench',
    alias,
  })
  if (created.status !== 201) throw new Error(`could not create the bench link: ${created.body}`)
  // Warm-up: JIT and connection pools.
  await autocannon({ url: `${stack.frontendUrl}/r/${alias}`, connections: 4, duration: 2 })
  await autocannon({ url: `http://127.0.0.1:${hopPort}/`, connections: 4, duration: 1 })
  await autocannon({ url: `http://127.0.0.1:${hopMtlsPort}/`, connections: 4, duration: 1 })

  out()
  const bare = await measure('bare Fastify hello-world', () => ({ hello: pid(hello) }), {
    url: `http://127.0.0.1:${helloPort}/`,
  })
  const plain = await measure(
    'plain-HTTP hop -> hello-world',
    () => ({ hop: pid(hop), hello: pid(hello) }),
    { url: `http://127.0.0.1:${hopPort}/` },
    { 'hop to hello': helloPort },
  )
  const mtlsHop = await measure(
    'SPIFFE mTLS hop -> hello-world (mTLS)',
    () => ({ hop: pid(hopMtls), hello: pid(helloMtls) }),
    { url: `http://127.0.0.1:${hopMtlsPort}/` },
    { 'hop to hello': helloMtlsPort },
  )
  const hops = {
    'to the gateway': stack.ports.apiGateway,
    'gateway to url-service': stack.ports.urlService,
  }
  const read = await measure(
    'read via api-gateway -> url-service (mTLS)',
    services,
    { url: `${stack.apiGatewayUrl}/api/urls/${alias}` },
    hops,
  )
  /** Per 1000 clicks counted (each a redirect, counted once): messages and records. */
  const clickCosts: { name: string; messages: number; records: number }[] = []
  const countingEvents = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const before = await settled(db, opsPort, alias)
    const result = await run()
    const after = await settled(db, opsPort, alias)
    const clicks = after.clicks - before.clicks
    const per1000 = (n: number) => (n / Math.max(clicks, 1)) * 1000
    const cost = {
      name,
      messages: per1000(after.messages - before.messages),
      records: per1000(after.records - before.records),
    }
    out(
      `${''.padEnd(44)} ${name}: ${clicks} clicks counted, ${cost.messages.toFixed(1)} SQS messages and ${cost.records.toFixed(1)} processed_events rows per 1000 redirects`,
    )
    clickCosts.push(cost)
    return result
  }
  const redirect = await countingEvents('saturated', () =>
    measure(
      'redirect frontend -> gateway -> url-service',
      services,
      { url: `${stack.frontendUrl}/r/${alias}` },
      hops,
    ),
  )
  const create = await measure(
    'create frontend -> gateway -> url-service',
    services,
    {
      url: `${stack.frontendUrl}/api/urls`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://example.com/bench/create' }),
    },
    hops,
  )
  const rate = Math.min(1000, Math.floor(redirect.rps * 0.8))
  const fixed = await countingEvents(`at ${rate} rps`, () =>
    measure(
      `redirect end to end at ${rate} rps (fixed rate)`,
      services,
      { url: `${stack.frontendUrl}/r/${alias}`, overallRate: rate },
      hops,
    ),
  )
  // CPU per request depends on the rate: a process woken for each request
  // pays for each wake-up (cold caches on shared cores) what a saturated one
  // spreads over many. The plain hop at the same rate is the fair yardstick
  // for what each relaying process costs in run 6.
  const plainAtRate = await measure(
    `plain-HTTP hop at ${rate} rps (fixed rate)`,
    () => ({ hop: pid(hop), hello: pid(hello) }),
    { url: `http://127.0.0.1:${hopPort}/`, overallRate: rate },
  )

  out()
  out(`load average after the runs: ${load()}`)
  out(
    'memory after the runs (MB): RSS, of which anonymous (the rest is mostly the shared node binary)',
  )
  const memoryOf = { ...services(), 'hello (baseline)': pid(hello) }
  const heapUrls: Record<string, string> = {
    frontend: `http://127.0.0.1:${stack.ports.frontendOps}/metrics`,
    'api-gateway': `http://127.0.0.1:${stack.ports.apiGatewayOps}/metrics`,
    'url-service': `http://127.0.0.1:${stack.ports.urlServiceOps}/metrics`,
    worker: `http://127.0.0.1:${stack.ports.workerOps}/metrics`,
    'hello (baseline)': `http://127.0.0.1:${helloPort}/heap`,
  }
  for (const [name, list] of Object.entries(memoryOf)) {
    const rss = list.reduce((sum, p) => sum + rssMb(p), 0)
    const anon = list.reduce((sum, p) => sum + anonMb(p), 0)
    const url = heapUrls[name]
    const heap = url === undefined ? '' : `  ${await heapSpaces(url)}`
    out(`  ${name.padEnd(18)} ${rss.toFixed(1).padStart(6)}  ${anon.toFixed(1).padStart(6)}${heap}`)
  }
  const both = (run: Run) => (run.cpuPer1000.hop ?? 0) + (run.cpuPer1000.hello ?? 0)
  // The mTLS overhead is a small difference of two noisy figures: measure it
  // in paired rounds, plain then mTLS back to back, and take the median.
  out()
  const rounds = Number(process.env.BENCH_MTLS_ROUNDS ?? 5)
  const extras: number[] = []
  for (let round = 1; round <= rounds; round++) {
    const short = { duration: Math.max(2, Math.round(seconds / 2)) }
    const p = await measure(
      `round ${round}: plain hop`,
      () => ({ hop: pid(hop), hello: pid(hello) }),
      { url: `http://127.0.0.1:${hopPort}/`, ...short },
    )
    const m = await measure(
      `round ${round}: mTLS hop`,
      () => ({ hop: pid(hopMtls), hello: pid(helloMtls) }),
      { url: `http://127.0.0.1:${hopMtlsPort}/`, ...short },
    )
    extras.push(both(m) - both(p))
  }
  const mtlsExtra = median(extras)

  const sum = (run: Run) => Object.values(run.cpuPer1000).reduce((a, b) => a + b, 0)
  const cpu = (run: Run, name: string) => run.cpuPer1000[name] ?? 0
  const helloCpu = cpu(bare, 'hello')
  const helloAnon = anonMb(pid(hello)[0] ?? 0)
  const goals: { goal: string; measured: string; met?: boolean }[] = [
    {
      goal: 'CPU per redirect, all processes <= 30x bare',
      measured: `${(sum(redirect) / helloCpu).toFixed(1)}x (${sum(redirect).toFixed(3)} / ${helloCpu.toFixed(3)} CPU s per 1000)`,
      met: sum(redirect) <= 30 * helloCpu,
    },
    {
      goal: 'redirect throughput >= 0.05 of bare',
      measured: (redirect.rps / bare.rps).toFixed(3),
      met: redirect.rps >= 0.05 * bare.rps,
    },
    {
      goal: 'redirect p99 <= 10 ms at 1000 rps',
      measured: `${fixed.p99} ms at ${rate} rps (plain hop at that rate: ${plainAtRate.p99} ms)`,
      ...(rate >= 1000 ? { met: fixed.p99 <= 10 } : {}),
    },
    {
      goal: `mTLS hop - plain hop, both ends <= 0.06 CPU s per 1000 (median of ${rounds} pairs)`,
      measured: `${mtlsExtra.toFixed(3)} (rounds: ${extras.map((e) => e.toFixed(3)).join(', ')})`,
      met: mtlsExtra <= 0.06,
    },
    {
      goal: `frontend relay <= 2x plain hop (both at ${rate} rps)`,
      measured: `${(cpu(fixed, 'frontend') / cpu(plainAtRate, 'hop')).toFixed(2)}x`,
      met: cpu(fixed, 'frontend') <= 2 * cpu(plainAtRate, 'hop'),
    },
    {
      goal: 'gateway <= 2x mTLS hop, both ends (saturated)',
      measured: `${(cpu(redirect, 'api-gateway') / both(mtlsHop)).toFixed(2)}x`,
      met: cpu(redirect, 'api-gateway') <= 2 * both(mtlsHop),
    },
    {
      goal: "url-service's resolve vs the mTLS hop's server side (goal: that plus one query)",
      measured: `${(cpu(read, 'url-service') / cpu(mtlsHop, 'hello')).toFixed(2)}x (no baseline for one query's client cost: not judged)`,
    },
    ...serviceNames.map((name) => {
      const anon = anonMb(stack.processes[name].pid ?? 0)
      return {
        goal: `${name} anonymous memory <= bare + 15 MB`,
        measured: `bare + ${(anon - helloAnon).toFixed(1)} MB (${anon.toFixed(1)} vs ${helloAnon.toFixed(1)})`,
        met: anon <= helloAnon + 15,
      }
    }),
    ...clickCosts.map((c) => ({
      goal: `SQS messages per 1000 redirects <= 20 (${c.name})`,
      measured: `${c.messages.toFixed(1)} messages, ${c.records.toFixed(1)} processed_events rows`,
      ...(c.name === 'saturated' ? { met: c.messages <= 20 && c.records <= 20 } : {}),
    })),
  ]
  // What tracing and request logging cost (issues 17 and 14), on fresh
  // stacks in pairs (cost.ts): the main stack and the baselines stop
  // first, so that only the pair runs.
  await db.end().catch(() => undefined)
  await stack.stop()
  for (const p of baselines) await p.stop('SIGTERM', 5000)
  out()
  const costs = await measureCosts({
    seconds,
    rate: Math.max(25, Math.floor((rate * 0.6) / 2)),
    runs: Number(process.env.BENCH_COST_RUNS ?? 5),
    compiled,
    out,
  })
  const cost = (ratio?: string, logLevel?: string) =>
    costs.find((c) => c.setting.ratio === ratio && c.setting.logLevel === logLevel)
  const [tenPercent, everything, info] = [cost('0.1'), cost('1'), cost(undefined, 'info')]
  goals.push({
    goal: 'tracing at the default ratio adds <= 10% CPU per redirect (issue 17; median of the runs)',
    measured: `${tenPercent?.text}; 100% sampled: ${everything?.text}`,
    met: (tenPercent?.median ?? 1) <= 0.1,
  })
  goals.push({
    goal: 'request logging at info, the default (one line a request), vs warn',
    measured: `${info?.text} CPU per redirect`,
  })

  out()
  out('goals (issue 14), each against a baseline of this run:')
  const width = Math.max(...goals.map((g) => g.goal.length))
  for (const g of goals) {
    const verdict = g.met === undefined ? 'info' : g.met ? 'met ' : 'MISS'
    out(`  ${verdict}  ${g.goal.padEnd(width)}  ${g.measured}`)
  }
  out(
    `  also: plain hop / bare ${(plain.rps / bare.rps).toFixed(3)}; mTLS hop / bare ${(mtlsHop.rps / bare.rps).toFixed(3)}; gateway read / bare ${(read.rps / bare.rps).toFixed(3)}; create / bare ${(create.rps / bare.rps).toFixed(3)}; redirect p50/p99 saturated ${redirect.p50}/${redirect.p99} ms`,
  )
} finally {
  await db.end().catch(() => undefined)
  for (const p of baselines) await p.stop('SIGTERM', 5000)
  await stack.stop()
}
