import type { StackOptions } from '@zt/devkit'
import { call, poll, postJson } from '../http.js'
import type { E2eStack } from '../stack.js'

/** The stack the fault drills (the suite and `pnpm demo`) run on. */
export const faultStackOptions = {
  // Rotating every 2 s keeps an SVID's remaining life far above a quarter of
  // its lifetime (12 s plus the dev CA's 10 s backdating), which readiness
  // requires; a 6 s TTL sat on that line and flapped under load.
  svidTtlSeconds: 12,
  rotateEverySeconds: 2,
  // As in the chart: a stopping process keeps serving briefly while its
  // readiness fails, so callers move away before the listener closes.
  env: {
    'api-gateway': { RATE_LIMIT_MAX: '1000000', DRAIN_DELAY_MS: '1000' },
    // Connections live 1 s, so new logins fall inside the rotation window.
    'url-service': { DRAIN_DELAY_MS: '1000', DB_POOL_MAX_LIFETIME_SECONDS: '1' },
    worker: { DB_POOL_MAX_LIFETIME_SECONDS: '1' },
  } satisfies StackOptions['env'],
}

export interface LoadCount {
  ok: number
  failed: number
  /** A few failure descriptions, for the report. */
  failures: string[]
}

/**
 * Keeps `concurrency` requests in flight until `stop()` resolves; each
 * request is one call of `send`, which returns a failure description or
 * undefined. Bounded by the caller's stop signal.
 */
export async function loadUntil(
  concurrency: number,
  send: (n: number) => Promise<string | undefined>,
  stop: Promise<unknown>,
): Promise<LoadCount> {
  const count: LoadCount = { ok: 0, failed: 0, failures: [] }
  let done = false
  void stop.then(() => {
    done = true
  })
  let n = 0
  const worker = async () => {
    while (!done) {
      const failure = await send(n++).catch((error: unknown) => String(error))
      if (failure === undefined) count.ok++
      else {
        count.failed++
        if (count.failures.length < 5) count.failures.push(failure)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return count
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A link to read and follow during the fault runs. */
export async function createLink(gatewayUrl: string, alias: string): Promise<string> {
  const created = await postJson(`${gatewayUrl}/api/urls`, {
    url: `https://example.com/${alias}`,
    alias,
  })
  if (created.status !== 201) throw new Error(`create ${alias}: ${created.status} ${created.body}`)
  return alias
}

export async function clickCount(stack: E2eStack, alias: string): Promise<number> {
  const record = await call(`${stack.apiGatewayUrl}/api/urls/${alias}`)
  return (record.json as { clicks?: number } | undefined)?.clicks ?? 0
}

/** Waits (up to 30 s) until the worker has counted `expected` clicks; returns the count. */
export async function clicksReaching(
  stack: E2eStack,
  alias: string,
  expected: number,
): Promise<number> {
  let counted = 0
  await poll(
    'clicks counted',
    async () => {
      counted = await clickCount(stack, alias)
      return counted >= expected ? counted : undefined
    },
    30_000,
    300,
  ).catch(() => undefined)
  return counted
}

/** Reads through the gateway (read, list, create): a failure is any non-2xx answer. */
export function gatewayTraffic(gatewayUrl: string, alias: string) {
  return async (n: number): Promise<string | undefined> => {
    const answer =
      n % 3 === 0
        ? await postJson(`${gatewayUrl}/api/urls`, { url: `https://example.com/load/${n}` })
        : n % 3 === 1
          ? await call(`${gatewayUrl}/api/urls/${alias}`)
          : await call(`${gatewayUrl}/api/urls?limit=5`)
    return answer.status < 300 ? undefined : `HTTP ${answer.status} ${answer.body.slice(0, 160)}`
  }
}
