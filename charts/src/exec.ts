/**
 * What a container of the chart would exec, decided offline the way the
 * kubelet and the container runtime decide it, so a chart that starts a
 * program the image cannot run fails here instead of in CrashLoopBackOff.
 *
 * - `command` replaces the image's ENTRYPOINT and drops its CMD; `args`
 *   replaces the CMD and keeps the ENTRYPOINT (Kubernetes "Define a command
 *   and arguments for a container").
 * - A program name without a slash is looked up in the image's PATH; the
 *   distroless Node images have no `node` (and no shell) there, so
 *   `command: ["node", ...]` ends in `exec: "node": executable file not found`.
 * - The image's ENTRYPOINT, CMD and WORKDIR come from the final stage of the
 *   repository's Dockerfile, on top of what its base image sets (below).
 * - The script Node is given must exist in the image: `dist/<x>.js` under
 *   WORKDIR is what the service's tsconfig.build.json compiles from its
 *   `src/<x>.ts`.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, posix } from 'node:path'

/** What a base image contributes. Only bases this repository builds on are known. */
interface BaseImage {
  entrypoint: string[]
  cmd: string[]
  path: string[]
  /** Absolute paths of the programs the image contains (what exec can start). */
  executables: string[]
}

/**
 * gcr.io/distroless/nodejs*: GoogleContainerTools/distroless nodejs/BUILD
 * builds it with `entrypoint = ["/nodejs/bin/node"]` on the `cc` base, whose
 * PATH directories hold no node and no shell.
 */
const distrolessNode: BaseImage = {
  entrypoint: ['/nodejs/bin/node'],
  cmd: [],
  path: ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'],
  executables: ['/nodejs/bin/node'],
}

const knownBases: Readonly<Record<string, BaseImage>> = {
  'gcr.io/distroless/nodejs24-debian12': distrolessNode,
}

export interface ImageModel {
  /** The Dockerfile it was read from, for messages. */
  source: string
  entrypoint: string[]
  cmd: string[]
  workdir: string
  path: string[]
  executables: ReadonlySet<string>
  /** Whether a file exists in the image at this absolute path. */
  hasFile(path: string): boolean
}

/** `FROM name[:tag][@digest] [AS alias]` without tag and digest. */
function imageName(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference
  const lastSlash = withoutDigest.lastIndexOf('/')
  const colon = withoutDigest.indexOf(':', lastSlash + 1)
  return colon === -1 ? withoutDigest : withoutDigest.slice(0, colon)
}

/** The instructions of a Dockerfile, continuation lines joined, comments dropped. */
function instructions(text: string): { keyword: string; rest: string }[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replaceAll(/\\\n/g, ' ')
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.search(/\s/)
      return space === -1
        ? { keyword: line.toUpperCase(), rest: '' }
        : { keyword: line.slice(0, space).toUpperCase(), rest: line.slice(space).trim() }
    })
}

/** ENTRYPOINT/CMD: the exec (JSON) form as is; the shell form runs under /bin/sh -c. */
function execForm(rest: string): string[] {
  if (rest.startsWith('[')) return JSON.parse(rest) as string[]
  return ['/bin/sh', '-c', rest]
}

/**
 * The final stage of `dockerfile` on top of its base image; `appFiles`
 * answers for the files that stage copies in (the service's build output).
 */
export function imageFromDockerfile(
  dockerfile: string,
  appFiles: (path: string, workdir: string) => boolean,
): ImageModel {
  const steps = instructions(readFileSync(dockerfile, 'utf8'))
  const start = steps.findLastIndex((step) => step.keyword === 'FROM')
  const from = steps[start]
  if (from === undefined) throw new Error(`${dockerfile}: no FROM`)
  // FROM ${BUILD_IMAGE}: a global ARG (declared before the first FROM) names
  // the base so that a build can swap it; its default is what ships.
  const globalArgs = new Map<string, string>()
  for (const step of steps.slice(
    0,
    steps.findIndex((s) => s.keyword === 'FROM'),
  )) {
    const [name, value] = step.rest.split(/=(.*)/s)
    if (step.keyword === 'ARG' && name !== undefined && value !== undefined) {
      globalArgs.set(name.trim(), value.trim())
    }
  }
  const reference = (from.rest.split(/\s+/)[0] ?? '').replaceAll(
    /\$\{?(\w+)\}?/g,
    (whole, name: string) => globalArgs.get(name) ?? whole,
  )
  const baseName = imageName(reference)
  const base = knownBases[baseName]
  if (base === undefined) throw new Error(`${dockerfile}: unknown base image ${baseName}`)
  let entrypoint = [...base.entrypoint]
  let cmd = [...base.cmd]
  let workdir = '/'
  for (const step of steps.slice(start + 1)) {
    if (step.keyword === 'WORKDIR') workdir = posix.resolve(workdir, step.rest)
    if (step.keyword === 'CMD') cmd = execForm(step.rest)
    if (step.keyword === 'ENTRYPOINT') {
      entrypoint = execForm(step.rest)
      // Docker: setting ENTRYPOINT resets a CMD inherited from the base.
      cmd = []
    }
  }
  return {
    source: dockerfile,
    entrypoint,
    cmd,
    workdir,
    path: base.path,
    executables: new Set(base.executables),
    hasFile: (path) => appFiles(path, workdir),
  }
}

/**
 * A service's image: the repository's one Dockerfile (services/<name>/ ->
 * the root), with `<WORKDIR>/dist/<x>.js` present exactly when
 * tsconfig.build.json compiles `<rootDir>/<x>.ts` to it. Its SERVICE build
 * argument needs no resolving here: it names what is installed and
 * deployed, never FROM, WORKDIR, ENTRYPOINT or CMD.
 */
export function serviceImage(serviceDir: string): ImageModel {
  return imageFromDockerfile(join(serviceDir, '..', '..', 'Dockerfile'), (path, workdir) => {
    const source = scriptSource(serviceDir, posix.relative(workdir, path))
    return source !== undefined && existsSync(source)
  })
}

/** The TypeScript source that tsconfig.build.json compiles to `script` (relative to WORKDIR), if any. */
export function scriptSource(serviceDir: string, script: string): string | undefined {
  const build = JSON.parse(readFileSync(join(serviceDir, 'tsconfig.build.json'), 'utf8')) as {
    compilerOptions: { rootDir: string; outDir: string }
  }
  const { rootDir, outDir } = build.compilerOptions
  const relative = posix.normalize(script)
  const prefix = `${outDir}/`
  if (!relative.startsWith(prefix) || !relative.endsWith('.js')) return undefined
  return join(serviceDir, rootDir, `${relative.slice(prefix.length, -'.js'.length)}.ts`)
}

export interface ContainerExec {
  name: string
  command?: string[]
  args?: string[]
}

/** The argv the runtime starts: Kubernetes' command/args rules over the image's ENTRYPOINT/CMD. */
export function resolveArgv(container: ContainerExec, image: ImageModel): string[] {
  const args =
    container.args !== undefined && container.args.length > 0 ? container.args : undefined
  if (container.command !== undefined && container.command.length > 0)
    return [...container.command, ...(args ?? [])]
  return [...image.entrypoint, ...(args ?? image.cmd)]
}

/** Node flags that take the program from the command line instead of a file. */
const evalFlags = new Set(['-e', '--eval', '-p', '--print'])

/**
 * Why `container` would not start in `image` (empty when it would): the
 * program must resolve to an executable the image has, and Node must be
 * given a script the image contains (or inline code).
 */
export function execProblems(container: ContainerExec, image: ImageModel): string[] {
  const where = `container ${container.name}`
  const argv = resolveArgv(container, image)
  const [program, ...rest] = argv
  if (program === undefined) return [`${where}: nothing to exec`]
  const candidates = program.includes('/')
    ? [posix.resolve(image.workdir, program)]
    : image.path.map((dir) => posix.join(dir, program))
  const executable = candidates.find((candidate) => image.executables.has(candidate))
  if (executable === undefined) {
    return [
      program.includes('/')
        ? `${where}: exec ${JSON.stringify(program)}: no such file in the image`
        : `${where}: exec ${JSON.stringify(program)}: executable file not found in $PATH`,
    ]
  }
  if (executable.endsWith('/node')) {
    if (rest.some((arg) => evalFlags.has(arg) || /^--(eval|print)=/.test(arg))) return []
    const script = rest.find((arg) => !arg.startsWith('-'))
    if (script === undefined) return [`${where}: node without a script would start a REPL`]
    const path = posix.resolve(image.workdir, script)
    if (!image.hasFile(path)) return [`${where}: node ${script}: ${path} is not in the image`]
  }
  return []
}

/** An image this model does not know (e.g. spiffe-helper): only its own ENTRYPOINT is trusted. */
export function foreignImageProblems(container: ContainerExec): string[] {
  return container.command !== undefined && container.command.length > 0
    ? [
        `container ${container.name}: command overrides the ENTRYPOINT of an image not modelled here`,
      ]
    : []
}
