import { existsSync, readdirSync } from 'node:fs'
import { join, posix } from 'node:path'

/** One Dockerfile instruction, continuation lines joined. */
export interface Instruction {
  keyword: string
  /** Everything after the keyword, flags included. */
  args: string
  /** 1-based line where the instruction starts. */
  line: number
}

export interface Stage {
  /** The image or earlier stage the stage starts FROM. */
  from: string
  name: string | undefined
  instructions: Instruction[]
}

export interface CopyInstruction {
  from: string | undefined
  sources: string[]
  destination: string
  line: number
}

/** `$NAME` and `${NAME}` replaced by the ARG values in scope; unknown names stay as written. */
function substituteArgs(value: string, args: ReadonlyMap<string, string>): string {
  return value.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (whole, braced: string | undefined, bare: string | undefined) =>
      args.get(braced ?? bare ?? '') ?? whole,
  )
}

const ARG = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/s

/**
 * Splits a Dockerfile into stages. Enough of the grammar for the structural
 * checks: comments, backslash continuations, FROM ... AS name, and ARGs
 * resolved as `docker build --build-arg` would resolve them: a global ARG
 * (before the first FROM) in FROM, and an ARG declared in a stage in that
 * stage's later instructions. `buildArgs` are the --build-arg values; without
 * one, an ARG has its default, and one with neither stays as written.
 */
export function parseDockerfile(
  text: string,
  buildArgs: Readonly<Record<string, string>> = {},
): Stage[] {
  const stages: Stage[] = []
  const globalArgs = new Map<string, string>()
  let stageArgs = new Map<string, string>()
  const lines = text.split('\n')
  let pending = ''
  let pendingLine = 0
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? ''
    const trimmed = raw.trim()
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) continue
    // A comment inside a continued instruction is dropped, as Docker does.
    if (pending !== '' && trimmed.startsWith('#')) continue
    if (pending === '') pendingLine = i + 1
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1).trim()} `
      continue
    }
    const full = (pending + trimmed).trim()
    pending = ''
    if (full === '') continue
    const match = /^(\S+)\s*(.*)$/s.exec(full)
    if (!match) continue
    const keyword = (match[1] ?? '').toUpperCase()
    const args = (match[2] ?? '').trim()
    const arg = keyword === 'ARG' ? ARG.exec(args) : null
    if (arg?.[1]) {
      const name = arg[1]
      // A stage's ARG without a default inherits the global one.
      const value =
        buildArgs[name] ??
        arg[2]?.replace(/^(["'])(.*)\1$/s, '$2') ??
        (stages.length === 0 ? undefined : globalArgs.get(name))
      if (value !== undefined) (stages.length === 0 ? globalArgs : stageArgs).set(name, value)
      if (stages.length === 0) continue
    }
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(
        substituteArgs(args, globalArgs),
      )
      stages.push({ from: from?.[1] ?? args, name: from?.[2], instructions: [] })
      stageArgs = new Map()
      continue
    }
    const stage = stages.at(-1)
    if (stage)
      stage.instructions.push({
        keyword,
        args: keyword === 'ARG' ? args : substituteArgs(args, stageArgs),
        line: pendingLine,
      })
  }
  return stages
}

/** Parses COPY/ADD arguments: leading --flags, then sources and a destination (shell or JSON form). */
export function parseCopy(instruction: Instruction): CopyInstruction {
  let rest = instruction.args
  let from: string | undefined
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S+))?\s*/.exec(rest)
    if (!flag) break
    if (flag[1] === 'from') from = flag[2]
    rest = rest.slice(flag[0].length)
  }
  const parts = rest.startsWith('[')
    ? (JSON.parse(rest) as string[])
    : rest.split(/\s+/).filter(Boolean)
  return {
    from,
    sources: parts.slice(0, -1),
    destination: parts.at(-1) ?? '',
    line: instruction.line,
  }
}

/** Turns one .dockerignore pattern into a regular expression over context-relative paths. */
function ignorePatternToRegExp(pattern: string): RegExp {
  let source = ''
  const clean = posix.normalize(pattern.replace(/^\/+/, '')).replace(/\/+$/, '')
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i] ?? ''
    if (c === '*' && clean[i + 1] === '*') {
      // "**/" matches any number of directories, including none.
      source += clean[i + 2] === '/' ? '(?:.*/)?' : '.*'
      i += clean[i + 2] === '/' ? 2 : 1
    } else if (c === '*') source += '[^/]*'
    else if (c === '?') source += '[^/]'
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  // A pattern that names a directory also excludes everything below it.
  return new RegExp(`^${source}(?:/.*)?$`)
}

/** Whether .dockerignore keeps `path` (relative to the context) out of the build context. */
export function isIgnored(dockerignore: string, path: string): boolean {
  const target = posix.normalize(path.replace(/^\.?\/+/, '')).replace(/\/+$/, '')
  let ignored = false
  for (const rawLine of dockerignore.split('\n')) {
    const line = rawLine.trim()
    if (line === '' || line.startsWith('#')) continue
    const negated = line.startsWith('!')
    if (ignorePatternToRegExp(negated ? line.slice(1) : line).test(target)) ignored = !negated
  }
  return ignored
}

function existsInContext(contextDir: string, source: string): boolean {
  if (!/[*?[]/.test(source)) return existsSync(join(contextDir, source))
  // A wildcard source must match at least one entry of its directory.
  const dir = posix.dirname(source)
  const pattern = ignorePatternToRegExp(posix.basename(source))
  return (
    existsSync(join(contextDir, dir)) &&
    readdirSync(join(contextDir, dir)).some((e) => pattern.test(e))
  )
}

export interface DockerfileCheckOptions {
  /** The build context: the repository root. */
  contextDir: string
  /** The context's .dockerignore text ('' when there is none). */
  dockerignore: string
  /** The workspace package the image must deploy, e.g. @zt/url-service. */
  packageName: string
  /** The `--build-arg` values the image is built with, e.g. { SERVICE: 'url-service' }. */
  buildArgs?: Readonly<Record<string, string>>
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`)
}

const PINNED = /@sha256:[0-9a-f]{64}$/
const NUMERIC_USER = /^(\d+)(?::(\d+))?$/
const INSTALLERS = /\b(apt-get|apt|apk|dnf|yum|microdnf|npm|pnpm|yarn|corepack|pip)\b/

/**
 * Returns every way the Dockerfile breaks the image rules (empty when none):
 * multi-stage, every base pinned by digest, a final stage that runs as a
 * numeric non-root user with only `pnpm deploy --prod` output copied in and
 * nothing installed, and COPY sources that exist in the context.
 */
export function checkDockerfile(text: string, options: DockerfileCheckOptions): string[] {
  const problems: string[] = []
  const stages = parseDockerfile(text, options.buildArgs)
  const final = stages.at(-1)
  if (!final) return ['no FROM instruction']
  if (stages.length < 2) problems.push('not multi-stage: build tools would ship in the image')

  const stageNames = new Set(stages.map((s) => s.name).filter((n): n is string => n !== undefined))
  for (const stage of stages) {
    if (!stageNames.has(stage.from) && !PINNED.test(stage.from)) {
      problems.push(`base image ${stage.from} is not pinned by digest (@sha256:...)`)
    }
  }

  // Where `pnpm deploy --prod` leaves the production-only package (absolute path -> stage).
  const deployTargets = new Map<string, string>()
  const workdirs = new Map<string, string>()
  for (const stage of stages.slice(0, -1)) {
    let workdir = '/'
    for (const ins of stage.instructions) {
      if (ins.keyword === 'WORKDIR') workdir = posix.resolve(workdir, ins.args)
      if (stage.name) workdirs.set(stage.name, workdir)
      if (ins.keyword !== 'RUN') continue
      // RUN's own flags (--mount=..., --network=...) precede the command.
      const commandLine = ins.args.replace(/^(?:--\S+\s+)*/, '')
      for (const command of commandLine.split(/&&|;/)) {
        const words = command.trim().split(/\s+/)
        if (words[0] !== 'pnpm' || !words.includes('deploy')) continue
        if (!words.includes('--prod') && !words.includes('-P')) {
          problems.push(`line ${ins.line}: pnpm deploy without --prod copies dev dependencies`)
          continue
        }
        const filter = words.findIndex((w) => w === '--filter' || w === '-F')
        const selected =
          filter >= 0 ? words[filter + 1] : words.find((w) => w.startsWith('--filter='))?.slice(9)
        if (selected?.replace(/^["']|["']$/g, '') !== options.packageName) {
          problems.push(`line ${ins.line}: pnpm deploy does not deploy ${options.packageName}`)
        }
        const target = words.at(-1)
        if (target && stage.name) deployTargets.set(posix.resolve(workdir, target), stage.name)
      }
    }
  }
  if (deployTargets.size === 0)
    problems.push(`no build stage runs pnpm deploy --prod for ${options.packageName}`)

  let user: string | undefined
  let copiedDeploy = false
  let nodeEnvProduction = false
  for (const ins of final.instructions) {
    if (ins.keyword === 'USER') user = ins.args
    if (ins.keyword === 'ENV' && /\bNODE_ENV[= ]"?production"?/.test(ins.args))
      nodeEnvProduction = true
    if (ins.keyword === 'RUN' && INSTALLERS.test(ins.args)) {
      problems.push(
        `line ${ins.line}: the final stage installs packages (${ins.args.slice(0, 40)})`,
      )
    }
    if (ins.keyword === 'ADD') problems.push(`line ${ins.line}: ADD in the final stage; use COPY`)
    if (ins.keyword !== 'COPY') continue
    const copy = parseCopy(ins)
    if (copy.from === undefined) continue
    const workdir = workdirs.get(copy.from) ?? '/'
    for (const source of copy.sources) {
      const path = posix.resolve(workdir, source)
      const fromDeploy = [...deployTargets].some(
        ([target, stage]) =>
          stage === copy.from && (path === target || path.startsWith(`${target}/`)),
      )
      if (fromDeploy) {
        copiedDeploy = true
        continue
      }
      // The workspace holds every devDependency: none of it may reach the image.
      const overlapsWorkspace = within(path, workdir) || within(workdir, path)
      if (overlapsWorkspace || /(^|\/)node_modules(\/|$)/.test(path)) {
        problems.push(
          `line ${ins.line}: copies ${source} from ${copy.from}, not the pnpm deploy --prod output`,
        )
      }
    }
  }
  if (deployTargets.size > 0 && !copiedDeploy)
    problems.push('the final stage does not copy the pnpm deploy --prod output')
  if (!nodeEnvProduction) problems.push('the final stage does not set NODE_ENV=production')

  const parsedUser = user === undefined ? null : NUMERIC_USER.exec(user)
  if (user === undefined) problems.push('the final stage has no USER: it would run as root')
  else if (!parsedUser)
    problems.push(`USER ${user} is not numeric (uid:gid), so runAsNonRoot cannot verify it`)
  else if (parsedUser[1] === '0' || parsedUser[2] === '0') problems.push(`USER ${user} is root`)

  for (const stage of stages) {
    for (const ins of stage.instructions) {
      if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') continue
      const copy = parseCopy(ins)
      if (copy.from !== undefined) continue
      for (const source of copy.sources) {
        if (!existsInContext(options.contextDir, source)) {
          problems.push(
            `line ${ins.line}: COPY source ${source} does not exist in the build context`,
          )
        } else if (source !== '.' && isIgnored(options.dockerignore, source)) {
          problems.push(`line ${ins.line}: COPY source ${source} is excluded by .dockerignore`)
        }
      }
    }
  }
  return problems
}
