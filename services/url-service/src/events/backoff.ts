import type { BaseLogger } from 'pino'

/** The logger surface the event modules use; Fastify's and pino's loggers fit. */
export type EventLog = Pick<BaseLogger, 'debug' | 'info' | 'warn' | 'error'>

export interface BackoffOptions {
  baseMs: number
  maxMs: number
}

export const defaultBackoff: BackoffOptions = { baseMs: 200, maxMs: 15_000 }

/**
 * "Full jitter" exponential backoff: the delay is uniform in [0, cap), so
 * replicas that failed together do not retry together.
 */
export function backoffDelay(
  failures: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(failures - 1, 30))
  return Math.floor(random() * cap)
}

/** A sleep that stop() can cut short. */
export class Sleeper {
  #wake: (() => void) | undefined

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(timer)
        if (self.#wake === done) self.#wake = undefined
        resolve()
      }
      this.#wake = done
    })
  }

  wake(): void {
    this.#wake?.()
  }
}
