import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { formatLogLine } from './logs.js'

export interface ProcessSpec {
  name: string
  /** Entry file, relative to cwd: TypeScript runs through tsx, compiled `.js` with plain node. */
  entry: string
  args?: string[]
  /** Extra Node flags before the entry, e.g. --cpu-prof for a benchmark. */
  nodeArgs?: string[]
  cwd: string
  /** Unset (undefined) variables are left out. */
  env: Record<string, string | undefined>
  /** Receives each formatted output line. */
  output: (name: string, line: string) => void
}

/**
 * One service as a child process running its real entry point from source,
 * with the same environment a container would get.
 */
export class ManagedProcess {
  readonly spec: ProcessSpec
  #child: ChildProcess | undefined
  #exited: Promise<number | null> = Promise.resolve(null)

  constructor(spec: ProcessSpec) {
    this.spec = spec
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  get running(): boolean {
    return (
      this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
    )
  }

  /** Resolves with the exit code (null when killed by a signal). */
  get exited(): Promise<number | null> {
    return this.#exited
  }

  start(): void {
    if (this.running) throw new Error(`${this.spec.name} is already running`)
    const child = spawn(
      process.execPath,
      [
        // tsx first, so that a TypeScript module can be --import-ed after it.
        ...(this.spec.entry.endsWith('.ts') ? ['--conditions=zt-source', '--import=tsx'] : []),
        ...(this.spec.nodeArgs ?? []),
        this.spec.entry,
        ...(this.spec.args ?? []),
      ],
      {
        cwd: this.spec.cwd,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.spec.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    this.#child = child
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) =>
        this.spec.output(this.spec.name, formatLogLine(line)),
      )
    }
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code))
      child.once('error', (error) => {
        this.spec.output(this.spec.name, `failed to start: ${error.message}`)
        resolve(1)
      })
    })
  }

  /** Sends a signal; with a timeout, escalates to SIGKILL when the process does not exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> {
    const child = this.#child
    if (!child || !this.running) return this.#exited
    child.kill(signal)
    const timer = setTimeout(() => {
      this.spec.output(this.spec.name, `did not stop within ${timeoutMs} ms, killing`)
      child.kill('SIGKILL')
    }, timeoutMs)
    try {
      return await this.#exited
    } finally {
      clearTimeout(timer)
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal)
  }
}
