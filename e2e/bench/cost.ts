/**
 * What tracing and request logging cost per redirect (issues 17 and 14):
 * `pnpm bench:cost` on its own, and the last part of `pnpm bench`.
 *
 * Each setting (tracing at the chart's default 10%, at 100%, logging at
 * info) runs on a fresh stack started beside a fresh stack with tracing
 * off, and only those two run. Both are warmed together for three measured
 * runs' length, as a first few thousand requests still cost more while
 * their code is compiled (four stacks at once, warmed for one run, put the
 * figures at twice these), then loaded together at one fixed rate, several
 * times; each time the setting's CPU per redirect is judged against tracing off's
 * of the same seconds, as the machine's other load moves runs minutes apart
 * by a fifth and here falls on both alike. The rate is one neither stack
 * saturates at: saturated, the slower setting's lower rate alone raises
 * every process's CPU per request (PostgreSQL's too, which traces nothing).
 * Spans go to each stack's OTLP receiver in this process: the services'
 * cost is measured, not the collector's. docs/performance.md, "Round four",
 * has what earlier designs of this measurement got wrong.
 */
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
import { postJson } from '../src/http.js'
import { commandLine, descendants } from '../src/processes.js'
import { startE2eStack } from '../src/stack.js'
import { cpuSeconds, median } from './measure.js'

export interface CostSetting {
  label: string
  /** OTEL_TRACES_SAMPLER_ARG under parentbased_traceidratio; no tracing without it. */
  ratio?: string
  logLevel?: string
}

export const costSettings: CostSetting[] = [
  { label: 'tracing on, 10% sampled (the chart default)', ratio: '0.1' },
  { label: 'tracing on, 100% sampled', ratio: '1' },
  { label: 'LOG_LEVEL=info (tracing off)', logLevel: 'info' },
]

export interface CostOptions {
  /** Seconds per measured run. */
  seconds: number
  /** Redirects per second sent to each stack of a pair. */
  rate: number
  /** Measured runs per pair; the median is the figure. */
  runs: number
  compiled: boolean
  out(line: string): void
}

export interface Cost {
  setting: CostSetting
  /** Extra CPU per redirect over tracing off, as a fraction; the median of the runs. */
  median: number
  text: string
}

const serviceNames = ['frontend', 'api-gateway', 'url-service', 'worker'] as const
const alias = 'bench-cost'

async function startSetting({ ratio, logLevel = 'warn' }: CostSetting, compiled: boolean) {
  // The chart leaves the batch delay at the SDK's 5 s (pnpm dev exports
  // every second, so that a trace shows up while the request is fresh).
  const sampler =
    ratio === undefined
      ? {}
      : {
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: ratio,
          OTEL_BSP_SCHEDULE_DELAY: '5000',
        }
  const stack = await startE2eStack({
    logLevel,
    compiled,
    tracing: ratio !== undefined,
    env: {
      'api-gateway': { RATE_LIMIT_MAX: '100000000', ...sampler },
      frontend: sampler,
      'url-service': sampler,
      worker: sampler,
    },
  })
  const link = await postJson(`${stack.apiGatewayUrl}/api/urls`, {
    url: 'https://example.com/bench',
    alias,
  })
  if (link.status !== 201) {
    await stack.stop()
    throw new Error(`could not create the bench link: ${link.body}`)
  }
  return stack
}

type Stack = Awaited<ReturnType<typeof startSetting>>

/** A stack's own processes: its services, its PostgreSQL postmaster (found by port) and backends. */
function pidsOf(stack: Stack): number[] {
  const postmaster = descendants(process.pid).find((p) =>
    new RegExp(`postgres .*-p ${stack.ports.postgres}( |$)`).test(commandLine(p)),
  )
  return [
    ...serviceNames.flatMap((name) => stack.processes[name].pid ?? []),
    ...(postmaster === undefined ? [] : [postmaster, ...descendants(postmaster)]),
  ]
}

/** The redirect on both stacks at once; CPU s per 1000 redirects and rps of each. */
async function loadTogether(stacks: Stack[], options: CostOptions, seconds = options.seconds) {
  const used = () => stacks.map((s) => pidsOf(s).reduce((t, p) => t + cpuSeconds(p), 0))
  const before = used()
  const results = await Promise.all(
    stacks.map((s) =>
      autocannon({
        url: `${s.frontendUrl}/r/${alias}`,
        connections: 4,
        duration: seconds,
        overallRate: options.rate,
      }),
    ),
  )
  const after = used()
  return stacks.map((_, i) => {
    const total = Math.max(results[i]?.requests.total ?? 0, 1)
    return {
      cost: (((after[i] ?? 0) - (before[i] ?? 0)) / total) * 1000,
      rps: results[i]?.requests.average ?? 0,
    }
  })
}

const percent = (r: number) => `${r >= 0 ? '+' : ''}${(r * 100).toFixed(1)}%`

/** Each setting against tracing off; the caller's own stacks must be stopped first. */
export async function measureCosts(options: CostOptions): Promise<Cost[]> {
  const { out } = options
  out(
    `each setting on a fresh stack beside a fresh one with tracing off, the two alone, warmed together ${3 * options.seconds} s, then loaded together at ${options.rate} rps each, ${options.runs} runs (CPU s per 1000 redirects, all processes):`,
  )
  const costs: Cost[] = []
  for (const setting of costSettings) {
    const stacks: Stack[] = []
    try {
      stacks.push(await startSetting({ label: 'tracing off' }, options.compiled))
      stacks.push(await startSetting(setting, options.compiled))
      await loadTogether(stacks, options, 3 * options.seconds)
      const ratios: number[] = []
      const lines: string[] = []
      for (let run = 0; run < options.runs; run++) {
        const [off, measured] = await loadTogether(stacks, options)
        ratios.push((measured?.cost ?? 0) / (off?.cost ?? 1) - 1)
        lines.push(`${measured?.cost.toFixed(3)} vs ${off?.cost.toFixed(3)}`)
      }
      const text = `${percent(median(ratios))} (runs: ${ratios.map(percent).join(', ')})`
      out(`  ${setting.label}: ${text}; CPU s per 1000, this vs off: ${lines.join(', ')}`)
      costs.push({ setting, median: median(ratios), text })
    } finally {
      for (const stack of stacks) await stack.stop()
    }
  }
  return costs
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await measureCosts({
    seconds: Number(process.env.BENCH_SECONDS ?? 6),
    rate: Number(process.env.BENCH_COST_RATE ?? 300),
    runs: Number(process.env.BENCH_COST_RUNS ?? 5),
    compiled: process.env.BENCH_SOURCE !== '1',
    out: (line) => process.stdout.write(`${line}\n`),
  })
}
