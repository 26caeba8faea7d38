import type { FastifyInstance } from 'fastify'
import type { OpsServer } from './ops.js'
import { flushTraces } from './trace-context.js'

export interface Listener {
  app: FastifyInstance
  port: number
  host: string
}

export interface RunOptions {
  /** The main listeners (zero for a worker that only has an ops port). */
  listeners: Listener[]
  ops: OpsServer & { port: number; host: string }
  /** Time between failing readiness and closing listeners, so endpoints update first. */
  drainDelayMs: number
  /** Hard limit on the whole shutdown; past it the process exits 1. */
  shutdownTimeoutMs: number
  /** Releases what the listeners used (pools, relays, sources), after they closed. */
  onShutdown?: () => Promise<void>
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void
}

function describeListenError(error: unknown, port: number): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EADDRINUSE')
    return `port ${port} is already in use; stop what holds it or set another port`
  if (code === 'EACCES') return `no permission to listen on port ${port}`
  return error instanceof Error ? error.message : String(error)
}

/**
 * Closes a listener once its in-flight requests finish. Keep-alive sockets
 * that turn idle after close() began would hold it open forever, so they are
 * swept until it resolves.
 */
async function closeListener(listener: Listener): Promise<void> {
  const sweep = setInterval(() => listener.app.server.closeIdleConnections(), 50)
  try {
    await listener.app.close()
  } finally {
    clearInterval(sweep)
  }
}

/**
 * Starts the listeners and wires SIGTERM/SIGINT to a graceful stop: readiness
 * fails first, then listeners stop accepting and finish in-flight requests,
 * then resources close. Returns the function that performs that stop.
 */
export async function runService(options: RunOptions): Promise<() => Promise<void>> {
  const exit = options.exit ?? ((code: number) => process.exit(code))
  const log = options.ops.app.log
  const all: Listener[] = [...options.listeners, options.ops]

  for (const listener of all) {
    try {
      await listener.app.listen({ port: listener.port, host: listener.host })
    } catch (error) {
      log.fatal(describeListenError(error, listener.port))
      await Promise.allSettled(all.map((l) => l.app.close()))
      await options.onShutdown?.().catch(() => undefined)
      exit(1)
      return async () => undefined
    }
  }

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    if (stopping) return stopping
    stopping = (async () => {
      const deadline = setTimeout(() => {
        log.error({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown timed out')
        exit(1)
      }, options.shutdownTimeoutMs)
      deadline.unref()
      options.ops.startDraining()
      if (options.drainDelayMs > 0) await new Promise((r) => setTimeout(r, options.drainDelayMs))
      await Promise.all(options.listeners.map(closeListener))
      await options.onShutdown?.()
      await options.ops.app.close()
      // Spans wait in a batch; the last requests' would die with the process.
      await flushTraces()
      clearTimeout(deadline)
      log.info('stopped')
    })()
    return stopping
  }

  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down')
    stop().then(
      () => exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed')
        exit(1)
      },
    )
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
  return stop
}
