import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export interface EntryProcess {
  readonly child: ChildProcess
  /** Everything the process wrote so far, raw (JSON log lines stay JSON). */
  output(): string
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>
}

/**
 * Runs a package's entry point from source the way `pnpm dev` does, for tests
 * of start-up and shutdown as a real process. Killed at teardown if still up.
 */
export function startEntry(
  t: Teardownable,
  options: { cwd: string; entry?: string; env: Record<string, string> },
): EntryProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=zt-source', '--import=tsx', options.entry ?? 'src/server.ts'],
    {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
  }
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    output: () => output,
    exited,
    stop: () => {
      child.kill('SIGTERM')
      return exited
    },
  }
}
