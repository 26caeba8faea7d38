/**
 * The checks of the chart's `helm test` Job. It runs in the frontend's
 * distroless image (Node only: no shell, no curl) and in a pod that carries
 * the frontend's labels and ServiceAccount, so the NetworkPolicies treat it
 * as a frontend pod:
 *
 * 1. the public path works: shorten a URL through the frontend, follow the
 *    short link (frontend -> api-gateway -> url-service -> database);
 * 2. what the frontend may reach opens (MUST_REACH), so the closed probes
 *    below are not merely a pod without a network;
 * 3. what it must not reach stays closed (MUST_NOT_REACH): a TCP connection
 *    that is established fails the run; refused, timed out or unreachable
 *    passes. A name that does not resolve fails too: nothing was tested.
 *
 * Every check runs and prints one line, so one run shows every broken flow.
 */
import { lookup } from 'node:dns/promises'
import { connect, isIP, type Socket } from 'node:net'
import { env, parseConfig } from '@zt/service-kit'
import { z } from 'zod'

export interface Target {
  host: string
  port: number
}

/** `host:port` (IPv6 as `[addr]:port`). */
export function parseTarget(text: string): Target {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text)
  const port = Number(match?.[3])
  const host = match?.[1] ?? match?.[2]
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`not host:port: ${text}`)
  return { host, port }
}

const targets = () =>
  env.list().transform((items, context) => {
    const parsed: Target[] = []
    for (const item of items) {
      try {
        parsed.push(parseTarget(item))
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message })
      }
    }
    return parsed
  })

const schema = z.object({
  FRONTEND_URL: env.url(),
  MUST_REACH: targets(),
  MUST_NOT_REACH: targets(),
  PROBE_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
})

export type HelmTestConfig = z.output<typeof schema>

export function loadHelmTestConfig(
  source: Record<string, string | undefined> = process.env,
): HelmTestConfig {
  return parseConfig(schema, source)
}

export type ProbeOutcome =
  | { open: true }
  | { open: false; reason: 'refused' | 'timeout' | 'unreachable' | 'reset' | string }

/** Opens `socket` for the probe; a seam so tests can play a black hole. */
export type Connect = (options: { host: string; port: number }) => Socket

/**
 * Whether a TCP connection to `target` is established within `timeoutMs`.
 * The name is resolved first, on its own, so a DNS failure is an error and
 * never mistaken for a blocked port.
 */
export async function tcpProbe(
  target: Target,
  timeoutMs: number,
  open: Connect = connect,
): Promise<ProbeOutcome> {
  const host =
    isIP(target.host) === 0
      ? (
          await lookup(target.host).catch((error: NodeJS.ErrnoException) => {
            throw new Error(`cannot resolve ${target.host} (${error.code ?? error.message})`)
          })
        ).address
      : target.host
  return new Promise((resolve) => {
    const socket = open({ host, port: target.port })
    const finish = (outcome: ProbeOutcome) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => finish({ open: false, reason: 'timeout' }), timeoutMs)
    socket.once('connect', () => finish({ open: true }))
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ECONNREFUSED'
          ? 'refused'
          : error.code === 'ECONNRESET'
            ? 'reset'
            : error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH'
              ? 'unreachable'
              : (error.code ?? error.message)
      finish({ open: false, reason })
    })
  })
}

/** Shortens a URL through the frontend and follows the short link, as a browser would. */
export async function publicPath(base: string, timeoutMs = 10_000): Promise<string> {
  const target = `https://example.com/helm-test/${Date.now()}`
  const created = await fetch(`${base}/api/urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: target }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (created.status !== 201)
    throw new Error(`POST /api/urls: ${created.status} ${await created.text()}`)
  const { code } = (await created.json()) as { code: string }
  const hop = await fetch(`${base}/r/${code}`, {
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (hop.status !== 302 || hop.headers.get('location') !== target)
    throw new Error(`GET /r/${code}: ${hop.status} location=${hop.headers.get('location')}`)
  return `${code} -> ${target}`
}

const show = (target: Target) =>
  isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`

/** Runs every check, writes one `ok:`/`not ok:` line each; true when all passed. */
export async function runHelmTest(
  config: HelmTestConfig,
  write: (line: string) => void,
  open: Connect = connect,
): Promise<boolean> {
  let passed = true
  const fail = (line: string) => {
    passed = false
    write(`not ok: ${line}`)
  }
  try {
    write(`ok: public path: ${await publicPath(config.FRONTEND_URL)}`)
  } catch (error) {
    fail(`public path: ${(error as Error).message}`)
  }
  for (const target of config.MUST_REACH) {
    try {
      const outcome = await tcpProbe(target, config.PROBE_TIMEOUT_MS, open)
      if (outcome.open) write(`ok: ${show(target)} is reachable, as allowed`)
      else fail(`${show(target)} must be reachable: ${outcome.reason}`)
    } catch (error) {
      fail(`${show(target)}: ${(error as Error).message}`)
    }
  }
  for (const target of config.MUST_NOT_REACH) {
    try {
      const outcome = await tcpProbe(target, config.PROBE_TIMEOUT_MS, open)
      if (outcome.open) fail(`${show(target)} is reachable: a NetworkPolicy lets this pod through`)
      else write(`ok: ${show(target)} is closed (${outcome.reason})`)
    } catch (error) {
      fail(`${show(target)}: ${(error as Error).message}`)
    }
  }
  return passed
}
