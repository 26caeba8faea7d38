import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { devPorts, isPortFree, type StackPorts } from '@zt/devkit'
import { descendants, isAlive } from './processes.js'
import { repoRoot } from './root.js'

/**
 * `pnpm dev` as a developer runs it: the same command, in its own process
 * group, with its state and ports moved aside so it cannot touch a running
 * developer stack.
 */
export class DevRun {
  readonly lines: string[] = []
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  /** Every process seen below the runner while it was up. */
  readonly seen = new Set<number>()

  constructor(
    readonly stateDir: string,
    readonly ports: StackPorts,
    portOffset: number,
  ) {
    // Exactly the root package.json "dev" script, as `pnpm dev` runs it
    // (pnpm itself only adds node_modules/.bin to PATH and waits); `exec`
    // makes the command itself the process that Ctrl-C reaches and whose exit
    // code we read, not a shell in between.
    const { scripts } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: { dev: string }
    }
    this.child = spawn('sh', ['-c', `exec ${scripts.dev}`], {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
        ZT_DEV_STATE_DIR: stateDir,
        ZT_DEV_PORT_OFFSET: String(portOffset),
      },
    })
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let rest = ''
      stream?.setEncoding('utf8')
      stream?.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n')
        rest = parts.pop() ?? ''
        this.lines.push(...parts)
      })
    }
    // 'close', not 'exit': only then has every line the runner wrote been read.
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)))
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('pnpm dev did not start')
    return this.child.pid
  }

  /** Records the current process tree, so we can check later that all of it is gone. */
  snapshot(): number[] {
    const tree = descendants(this.pid)
    for (const pid of tree) this.seen.add(pid)
    return tree
  }

  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const line = this.lines.find((l) => pattern.test(l))
      if (line !== undefined) return line
      if (this.child.exitCode !== null)
        throw new Error(`pnpm dev exited (${this.child.exitCode}):\n${this.tail()}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    throw new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${this.tail()}`)
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n')
  }

  /** Ctrl-C in a terminal: SIGINT to the whole foreground process group. */
  interrupt(): void {
    process.kill(-this.pid, 'SIGINT')
  }

  survivors(): number[] {
    return [...this.seen, this.pid].filter(isAlive)
  }

  /** Last resort for a failed test: nothing of ours may outlive it. */
  kill(): void {
    for (const target of [-this.pid, ...this.seen]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}

/** A port offset where every `pnpm dev` port is free, below the kernel's ephemeral range. */
export async function freePortOffset(): Promise<{ offset: number; ports: StackPorts }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const offset = 10_000 + Math.floor(Math.random() * 10_000)
    const ports = Object.fromEntries(
      Object.entries(devPorts).map(([name, port]) => [name, port + offset]),
    ) as unknown as StackPorts
    const free = await Promise.all(Object.values(ports).map((port) => isPortFree(port)))
    if (free.every(Boolean)) return { offset, ports }
  }
  throw new Error('no free port offset found in 20 attempts')
}
