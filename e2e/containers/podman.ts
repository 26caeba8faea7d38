/**
 * Podman on this kind of machine (Debian 12, root, no Docker, no registry):
 * installs and configures it, and runs its CLI with a time limit.
 * /work/shared/reference/toolchain-facts.md-style traps are handled here once:
 * runc instead of crun, cgroupfs, file events, ulimits that do not raise
 * the hard limits, netavark with aardvark-dns.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface RunResult {
  status: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Kill the command after this long (default 2 minutes). */
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Written to stdin, then closed. */
  input?: string
  /** Also stream output to this process's stderr, prefixed (long builds). */
  echo?: string
}

/** Runs a command; never throws for a non-zero exit, only for a timeout or a missing binary. */
export function run(command: string, args: readonly string[], options: RunOptions = {}) {
  const timeoutMs = options.timeoutMs ?? 120_000
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    const echo = (chunk: Buffer) => {
      if (!options.echo) return
      for (const line of chunk.toString().split('\n')) {
        if (line.trim()) process.stderr.write(`${options.echo} ${line}\n`)
      }
    }
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      echo(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      echo(chunk)
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `${command} ${args.slice(0, 4).join(' ')} … did not finish within ${timeoutMs / 1000} s\n${stderr.slice(-2000)}`,
        ),
      )
    }, timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ status: code ?? (signal ? 128 : 1), stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

/** `podman …`; stderr's noise about syslog (no syslog daemon here) removed. */
export async function podman(args: readonly string[], options: RunOptions = {}) {
  const result = await run('podman', args, options)
  result.stderr = result.stderr
    .split('\n')
    .filter((line) => !line.includes('failed to connect to syslog'))
    .join('\n')
  return result
}

/** `podman …` that must succeed; throws with its stderr otherwise. */
export async function podmanOk(args: readonly string[], options: RunOptions = {}) {
  const result = await podman(args, options)
  if (result.status !== 0) {
    throw new Error(
      `podman ${args.join(' ').slice(0, 300)} failed (${result.status}):\n${result.stderr.trim()}`,
    )
  }
  return result.stdout
}

export async function imageExists(name: string): Promise<boolean> {
  return (await podman(['image', 'exists', name])).status === 0
}

/** The Debian packages podman needs here, and the tools the suites use around it. */
export const SYSTEM_PACKAGES: Record<string, string> = {
  podman: '/usr/bin/podman',
  runc: '/usr/sbin/runc',
  catatonit: '/usr/bin/catatonit',
  netavark: '/usr/lib/podman/netavark',
  'aardvark-dns': '/usr/lib/podman/aardvark-dns',
  // netavark programs bridge networks through it; without it every container
  // on a user network fails with "netavark: No such file or directory".
  iptables: '/usr/sbin/iptables',
  'fuse-overlayfs': '/usr/bin/fuse-overlayfs',
  slirp4netns: '/usr/bin/slirp4netns',
  uidmap: '/usr/bin/newuidmap',
  // The build-stage stand-in's Debian userland (apt-based, faster than debootstrap).
  mmdebstrap: '/usr/bin/mmdebstrap',
  'docker-compose': '/usr/bin/docker-compose',
}

/**
 * A drop-in, not containers.conf itself, so a machine's own settings stay;
 * containers.conf.d files are read after it and win.
 */
export const CONTAINERS_CONF = '/etc/containers/containers.conf.d/50-zero-trust-eks.conf'
const CONTAINERS_CONF_TEXT = `# Written by e2e/containers/podman.ts (pnpm images): rootful podman on Debian 12.
[containers]
# The default raises RLIMIT_NPROC above the hard limit, which fails here.
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
# crun fails on this host's hybrid cgroup layout; runc works.
runtime = "runc"
cgroup_manager = "cgroupfs"
# No journald here.
events_logger = "file"

[network]
# Service-name DNS on user networks (aardvark-dns) needs netavark.
network_backend = "netavark"
`

/**
 * Installs missing packages (apt, as root) and writes the podman drop-in.
 * Idempotent: a configured machine costs a few file checks.
 */
export async function ensurePodman(log: (line: string) => void): Promise<void> {
  const missing = Object.entries(SYSTEM_PACKAGES)
    .filter(([, binary]) => !existsSync(binary))
    .map(([name]) => name)
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `missing packages ${missing.join(' ')}: install them as root (apt-get install)`,
      )
    }
    log(`installing ${missing.join(' ')} (apt-get)`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const update = await run('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 })
    if (update.status !== 0) throw new Error(`apt-get update failed:\n${update.stderr}`)
    const install = await run(
      'apt-get',
      ['install', '-y', '-qq', '--no-install-recommends', ...missing],
      { env, timeoutMs: 600_000 },
    )
    if (install.status !== 0) throw new Error(`apt-get install failed:\n${install.stderr}`)
  }
  const current = await readFile(CONTAINERS_CONF, 'utf8').catch(() => '')
  if (current !== CONTAINERS_CONF_TEXT) {
    await mkdir(dirname(CONTAINERS_CONF), { recursive: true })
    await writeFile(CONTAINERS_CONF, CONTAINERS_CONF_TEXT)
    log(`wrote ${CONTAINERS_CONF}`)
  }
  const info = await podman([
    'info',
    '--format',
    '{{.Host.OCIRuntime.Name}} {{.Host.NetworkBackend}}',
  ])
  if (info.status !== 0 || info.stdout.trim() !== 'runc netavark') {
    throw new Error(
      `podman is not configured as expected (runtime runc, network backend netavark): ${info.stdout.trim()} ${info.stderr.trim()}\n` +
        'A machine that used CNI before needs `podman system reset` to switch to netavark.',
    )
  }
}
