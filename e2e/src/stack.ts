import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomPorts, type Stack, type StackOptions, startStack } from '@zt/devkit'
import { repoRoot } from './root.js'

export interface LogLine {
  name: string
  line: string
}

/** A whole running system for one suite, with its log lines kept for reports. */
export interface E2eStack extends Stack {
  readonly logs: LogLine[]
  /** Log lines of one process written after `mark` (an index into logs). */
  linesSince(mark: number, name?: string): string[]
  tail(n?: number): string
}

/**
 * Starts the same stack as `pnpm dev` (devkit's startStack) on kernel-chosen
 * ports with its state in a temp dir, so suites run beside a developer's
 * own `pnpm dev` and leave nothing behind.
 */
export async function startE2eStack(
  options: Partial<Omit<StackOptions, 'root' | 'stateDir' | 'output'>> & {
    echo?: boolean
  } = {},
): Promise<E2eStack> {
  const stateDir = await mkdtemp(join(tmpdir(), 'zt-e2e-'))
  // PostgreSQL runs as its own user when we are root; it must reach its data dir.
  await chmod(stateDir, 0o755)
  const logs: LogLine[] = []
  const { echo, ...rest } = options
  let stack: Stack
  try {
    stack = await startStack({
      root: repoRoot,
      stateDir,
      ports: await randomPorts(),
      logLevel: 'warn',
      ...rest,
      output: (name, line) => {
        logs.push({ name, line })
        if (echo) process.stdout.write(`# ${name.padEnd(11)} ${line}\n`)
      },
    })
  } catch (error) {
    await rm(stateDir, { recursive: true, force: true })
    throw new Error(
      `stack did not start: ${String(error)}\n${logs
        .slice(-40)
        .map((l) => `${l.name}: ${l.line}`)
        .join('\n')}`,
    )
  }
  const stop = async () => {
    await stack.stop()
    await rm(stateDir, { recursive: true, force: true })
  }
  // Object.create keeps the stack's getters live (postgres, sqs after a restart).
  return Object.assign(Object.create(stack) as Stack, {
    logs,
    linesSince: (mark: number, name?: string) =>
      logs
        .slice(mark)
        .filter((l) => name === undefined || l.name === name)
        .map((l) => l.line),
    tail: (n = 40) =>
      logs
        .slice(-n)
        .map((l) => `${l.name}: ${l.line}`)
        .join('\n'),
    stop,
  })
}
