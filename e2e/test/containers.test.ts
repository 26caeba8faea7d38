import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serviceNodeArgs, testAdminUrl } from '@zt/devkit'
import pg from 'pg'
import t from 'tap'
import { COMPOSE_MISSING, type ComposeConfig, checkCompose, composeConfig } from '../src/compose.js'
import { checkDockerfile, isIgnored, parseCopy, parseDockerfile } from '../src/dockerfile.js'

const root = join(import.meta.dirname, '..', '..')
const composeFile = join(root, 'docker-compose.yml')
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8')
const SERVICES = ['frontend', 'api-gateway', 'url-service'] as const

// One Dockerfile builds every service, chosen by the SERVICE build argument.
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
const checkOptions = (service: string) => ({
  contextDir: root,
  dockerignore,
  packageName: `@zt/${service}`,
  buildArgs: { SERVICE: service },
})

// docker-compose takes seconds to start on a busy machine: resolve the file once.
let resolved: ComposeConfig | undefined
function resolvedCompose(): ComposeConfig {
  if (resolved) return resolved
  const result = composeConfig(composeFile)
  if (!result.config) throw new Error(`docker-compose config failed:\n${result.output}`)
  resolved = result.config
  return resolved
}

t.test('docker-compose config -q accepts docker-compose.yml', (t) => {
  const run = spawnSync('docker-compose', ['-f', composeFile, 'config', '-q'], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  if (run.error) {
    t.fail(
      (run.error as NodeJS.ErrnoException).code === 'ENOENT' ? COMPOSE_MISSING : run.error.message,
    )
  } else {
    t.equal(run.status, 0, run.stderr)
  }
  t.end()
})

t.test('a machine without docker-compose fails the check instead of skipping it', (t) => {
  t.throws(() => composeConfig(composeFile, 'docker-compose-not-installed'), {
    message: COMPOSE_MISSING,
  })
  t.end()
})

t.test('docker-compose config rejects a malformed file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-compose-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    'services:\n  web:\n    image: nginx\n    read_only: maybe\n',
  )
  const result = composeConfig(join(dir, 'docker-compose.yml'))
  t.equal(result.ok, false)
  t.match(result.output, /read_only/)
  t.end()
})

t.test('the compose stack follows the container rules', (t) => {
  const config = resolvedCompose()
  t.same(checkCompose(config), [])
  t.same(Object.keys(config.services).sort(), [
    'api-gateway',
    'dev-ca',
    'frontend',
    'localstack',
    'migrate',
    'postgres',
    'url-service',
    'worker',
  ])
  t.end()
})

t.test('compose networks mirror the NetworkPolicies', (t) => {
  const config = resolvedCompose() as unknown as {
    services: Record<string, { networks?: Record<string, unknown> }>
    networks: Record<string, { internal?: boolean }>
  }
  const networksOf = (name: string) => Object.keys(config.services[name]?.networks ?? {}).sort()
  t.same(networksOf('frontend'), ['public'], 'the frontend reaches nothing but the public network')
  t.same(networksOf('api-gateway'), ['public', 'services'], 'the gateway is the only bridge')
  for (const name of ['url-service', 'worker', 'migrate', 'dev-ca', 'postgres', 'localstack']) {
    t.same(networksOf(name), ['services'], `${name} is behind the gateway`)
  }
  t.equal(config.networks.services?.internal, true, 'the services network has no route out')
  t.end()
})

t.test('compose commands run entry points that exist', (t) => {
  const config = resolvedCompose() as unknown as {
    services: Record<string, { command?: string[] }>
  }
  const entries: Record<string, string> = {
    'url-service': 'services/url-service/src/server.ts',
    worker: 'services/url-service/src/worker.ts',
    migrate: 'services/url-service/src/migrate.ts',
    // The CLI, compiled from src/ so the image carries it (bin/ is not built).
    'dev-ca': 'packages/spiffe/src/dev-ca-cli.ts',
  }
  for (const [name, source] of Object.entries(entries)) {
    const command = config.services[name]?.command?.[0] ?? ''
    const compiled = command
      .replace(/^node_modules\/@zt\/spiffe\//, '')
      .replace(/^dist\/(.*)\.js$/, 'src/$1.ts')
    t.ok(source.endsWith(compiled), `${name} runs ${command}, compiled from ${source}`)
    t.ok(statSync(join(root, source), { throwIfNoEntry: false })?.isFile(), `${source} exists`)
  }
  // The dev CA ships inside the url-service image only because url-service depends on the library.
  const urlService = JSON.parse(
    readFileSync(join(root, 'services/url-service/package.json'), 'utf8'),
  ) as {
    dependencies?: Record<string, string>
  }
  t.ok(urlService.dependencies?.['@zt/spiffe'], 'url-service depends on @zt/spiffe')
  t.end()
})

t.test('the dev CA writes every SVID volume a workload reads', (t) => {
  const config = resolvedCompose() as unknown as {
    services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>
  }
  const caMounts = config.services['dev-ca']?.volumes ?? []
  const readers = Object.entries(config.services).filter(([, s]) => s.environment?.SPIFFE_SVID_DIR)
  t.same(readers.map(([name]) => name).sort(), ['api-gateway', 'url-service'])
  for (const [name, service] of readers) {
    const dir = service.environment?.SPIFFE_SVID_DIR ?? ''
    const mount = (service.volumes ?? []).find((v) => v.split(':')[1] === dir) ?? ''
    const [volume] = mount.split(':')
    t.ok(caMounts.includes(`${volume}:${dir}:rw`), `dev-ca writes ${volume} at ${dir} for ${name}`)
  }
  t.end()
})

t.test('LocalStack creates exactly what the services are pointed at', (t) => {
  const config = resolvedCompose() as unknown as {
    services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>
  }
  const localstack = config.services.localstack?.environment ?? {}
  const postgres = config.services.postgres?.environment ?? {}
  const urlService = config.services['url-service']?.environment ?? {}
  t.equal(urlService.DB_SECRET_ARN?.split(':secret:')[1], localstack.ZT_DB_SECRET_NAME)
  t.equal(urlService.EVENTS_QUEUE_URL?.split('/').at(-1), localstack.ZT_EVENTS_QUEUE)
  t.equal(localstack.ZT_DB_USER, postgres.ZT_APP_USER, 'the secret holds the app login')
  t.not(localstack.ZT_DB_USER, postgres.POSTGRES_USER, 'not the superuser')
  t.equal(localstack.ZT_DB_PASSWORD, postgres.ZT_APP_PASSWORD)
  t.equal(localstack.ZT_DB_NAME, postgres.ZT_APP_DB)
  t.ok(
    (config.services.postgres?.volumes ?? []).some((v) =>
      v.endsWith(':/docker-entrypoint-initdb.d/10-app-login.sh:ro'),
    ),
    'the app-login hook is mounted into initdb.d',
  )
  const hook = join(root, 'compose/localstack/init-aws.sh')
  t.ok(statSync(hook).mode & 0o111, 'LocalStack runs only executable init scripts')
  t.ok(
    (config.services.localstack?.volumes ?? []).some((v) =>
      v.endsWith(':/etc/localstack/init/ready.d/init-aws.sh:ro'),
    ),
    'the hook is mounted into ready.d',
  )
  t.end()
})

for (const service of SERVICES) {
  t.test(`the Dockerfile with SERVICE=${service} follows the image rules`, (t) => {
    t.same(checkDockerfile(dockerfile, checkOptions(service)), [])
    const final = parseDockerfile(dockerfile, { SERVICE: service }).at(-1)
    t.ok(
      final?.instructions.some(
        (i) => i.keyword === 'ENV' && i.args.includes(`OTEL_SERVICE_NAME=${service}`),
      ),
      'traces carry the service name by default',
    )
    const nodeOptions = final?.instructions
      .filter((i) => i.keyword === 'ENV')
      .map((i) => /NODE_OPTIONS="([^"]*)"/.exec(i.args)?.[1])
      .find((v) => v !== undefined)
    t.same(
      nodeOptions?.split(' '),
      serviceNodeArgs,
      'Node runs with the flags pnpm dev and the bench use (tracing, the young-generation cap)',
    )
    t.end()
  })
}

t.test('the Dockerfile builds nothing without a SERVICE', (t) => {
  t.notMatch(dockerfile, /^ARG SERVICE=/m, 'SERVICE has no default')
  const steps = parseDockerfile(dockerfile)[0]?.instructions ?? []
  const guard = steps.findIndex((i) => i.keyword === 'RUN' && i.args.includes('SERVICE'))
  const install = steps.findIndex((i) => /pnpm install/.test(i.args))
  t.ok(guard >= 0 && guard < install, 'before pnpm installs anything')
  // The guard as the build stage's shell runs it, SERVICE from the environment
  // as the ARG passes it.
  const run = (service: string | undefined) =>
    spawnSync('sh', ['-c', steps[guard]?.args ?? 'false'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...(service === undefined ? {} : { SERVICE: service }) },
    })
  for (const service of SERVICES) t.equal(run(service).status, 0, `${service} builds`)
  for (const service of [undefined, '', 'worker', '@zt/url-service']) {
    const refused = run(service)
    t.not(refused.status, 0, `SERVICE=${service} stops the build`)
    t.match(refused.stderr, 'set --build-arg SERVICE=api-gateway|frontend|url-service')
  }
  t.same(
    checkDockerfile(dockerfile, { ...checkOptions('url-service'), buildArgs: {} }).map((p) =>
      p.replace(/^line \d+: /, ''),
    ),
    ['pnpm deploy does not deploy @zt/url-service'],
    'unresolved, the deploy names no package',
  )
  t.end()
})

t.test('the url-service image carries its migrations (pnpm deploy copies only "files")', (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'services/url-service/package.json'), 'utf8')) as {
    files?: string[]
  }
  t.same([...(pkg.files ?? [])].sort(), ['dist', 'migrations'])
  t.ok(statSync(join(root, 'services/url-service/migrations')).isDirectory())
  t.end()
})

t.test('every image builds from the same pinned bases, whatever its SERVICE', (t) => {
  const bases = SERVICES.map((s) =>
    parseDockerfile(dockerfile, { SERVICE: s })
      .map((stage) => stage.from)
      .join(' '),
  )
  t.equal(new Set(bases).size, 1, bases.join('\n'))
  t.end()
})

t.test('images start the service entry point and claim no ports', (t) => {
  const final = parseDockerfile(dockerfile).at(-1)
  // One EXPOSE would claim one service's ports for all three; config.ts
  // defaults, the chart and compose declare each service's own.
  t.notOk(
    final?.instructions.some((i) => i.keyword === 'EXPOSE'),
    'no EXPOSE',
  )
  t.equal(final?.instructions.find((i) => i.keyword === 'CMD')?.args, '["dist/server.js"]')
  for (const service of SERVICES) {
    t.ok(
      statSync(join(root, 'services', service, 'src/server.ts'), {
        throwIfNoEntry: false,
      })?.isFile(),
    )
  }
  t.end()
})

t.test('the parser joins continuations and reads both COPY forms', (t) => {
  const stages = parseDockerfile(
    'FROM a@sha256:1 AS build\n# note\nRUN one \\\n  # dropped\n  two\nCOPY --from=build --chown=1:1 ["/x y", "/z"]\nCOPY a b c/\n',
  )
  t.equal(stages.length, 1)
  t.same(
    stages[0]?.instructions.map((i) => [i.keyword, i.args, i.line]),
    [
      ['RUN', 'one two', 3],
      ['COPY', '--from=build --chown=1:1 ["/x y", "/z"]', 6],
      ['COPY', 'a b c/', 7],
    ],
  )
  const [json, shell] = (stages[0]?.instructions.slice(1) ?? []).map(parseCopy)
  t.same(json, { from: 'build', sources: ['/x y'], destination: '/z', line: 6 })
  t.same(shell, { from: undefined, sources: ['a', 'b'], destination: 'c/', line: 7 })
  t.end()
})

t.test('FROM resolves global ARGs to their defaults', (t) => {
  // Dockerfile's ${NAME}, built so that it does not read as a JS template.
  const ref = (name: string) => `$${'{'}${name}}`
  const stages = parseDockerfile(
    [
      '# base images as build arguments',
      `ARG BUILD_IMAGE="a@sha256:${'a'.repeat(64)}"`,
      `ARG RUNTIME_IMAGE=b@sha256:${'b'.repeat(64)}`,
      'ARG UNSET',
      `FROM ${ref('BUILD_IMAGE')} AS build`,
      'ARG LATE=c',
      'FROM $RUNTIME_IMAGE',
      `FROM ${ref('UNSET')}`,
      `FROM ${ref('LATE')}`,
    ].join('\n'),
  )
  t.same(
    stages.map((s) => [s.from, s.name]),
    [
      [`a@sha256:${'a'.repeat(64)}`, 'build'],
      [`b@sha256:${'b'.repeat(64)}`, undefined],
      [ref('UNSET'), undefined],
      [ref('LATE'), undefined],
    ],
    'an ARG without a default, or one inside a stage, does not resolve',
  )
  t.equal(stages[0]?.instructions.length, 1, 'the stage keeps its own ARG')
  t.end()
})

t.test('build args resolve in FROM and in the stages that declare them', (t) => {
  const ref = (name: string) => `$${'{'}${name}}`
  const text = [
    'ARG BASE=a',
    'ARG SHARED=global',
    `FROM ${ref('BASE')} AS build`,
    `RUN echo ${ref('SERVICE')}`,
    'ARG SERVICE',
    'ARG SHARED',
    `RUN echo ${ref('SERVICE')} $SHARED`,
    `FROM ${ref('BASE')}`,
    `ENV NAME=${ref('SERVICE')}`,
  ].join('\n')
  const stages = parseDockerfile(text, { BASE: 'b', SERVICE: 'frontend' })
  t.same(
    stages.map((s) => s.from),
    ['b', 'b'],
  )
  t.same(
    stages[0]?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args),
    [`echo ${ref('SERVICE')}`, 'echo frontend global'],
    'only after its ARG, and a bare ARG inherits the global default',
  )
  t.equal(stages[1]?.instructions[0]?.args, `NAME=${ref('SERVICE')}`, 'a new stage declares again')
  t.end()
})

t.test('the Dockerfile takes its bases as ARGs and pnpm from packageManager', (t) => {
  const manager = (
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { packageManager: string }
  ).packageManager
  t.match(manager, /^pnpm@\d+\.\d+\.\d+/)
  t.match(dockerfile, /^FROM \$\{BUILD_IMAGE\} AS build$/m, 'build base is an ARG')
  t.match(dockerfile, /^FROM \$\{RUNTIME_IMAGE\}$/m, 'runtime base is an ARG')
  t.notMatch(dockerfile, /pnpm@\d/, 'no pnpm version of its own')
  t.match(dockerfile, /packageManager\.split\('\+'\)\[0\]/, "installs packageManager's pnpm")
  t.end()
})

t.test('.dockerignore matching', (t) => {
  const ignored = [
    'node_modules',
    'services/url-service/node_modules/pg/index.js',
    'packages/spiffe/dist',
    '.dev/spiffe/bundle.pem',
    'services/api-gateway/test/app.test.ts',
    'scripts/test-all.ts',
    // Editing it must not change the context, or every layer after COPY . . would rebuild.
    'Dockerfile',
  ]
  const kept = [
    'pnpm-lock.yaml',
    'services/url-service/src/server.ts',
    'services/url-service/migrations',
    // Build inputs that are not under src/: the frontend's asset build and the Workload API protos.
    'services/frontend/scripts/build-web.ts',
    'services/frontend/web/app.ts',
    'packages/spiffe/proto/workload.proto',
  ]
  for (const path of ignored) t.ok(isIgnored(dockerignore, path), `ignored: ${path}`)
  for (const path of kept) t.notOk(isIgnored(dockerignore, path), `kept: ${path}`)
  t.ok(isIgnored('*.log\n!keep.log', 'debug.log'))
  t.notOk(isIgnored('*.log\n!keep.log', 'keep.log'))
  t.end()
})

const BAD_DOCKERFILE = `
FROM node:24-bookworm-slim AS build
WORKDIR /repo
COPY pnpm-lock.yaml does-not-exist.json ./
COPY services/url-service/node_modules ./nm
RUN pnpm install --frozen-lockfile && pnpm --filter @zt/api-gateway deploy /out
FROM gcr.io/distroless/nodejs24-debian12:latest
COPY --chown=0:0 --from=build /repo /app
COPY --from=build /repo/node_modules /app/node_modules
RUN apt-get update && apt-get install -y curl
USER node
CMD ["dist/server.js"]
`

t.test('the Dockerfile check reports each broken rule', (t) => {
  const problems = checkDockerfile(BAD_DOCKERFILE, {
    contextDir: root,
    dockerignore,
    packageName: '@zt/url-service',
  })
  const expected = [
    /base image node:24-bookworm-slim is not pinned/,
    /base image gcr\.io\/distroless\/nodejs24-debian12:latest is not pinned/,
    /pnpm deploy without --prod/,
    /no build stage runs pnpm deploy --prod for @zt\/url-service/,
    /copies \/repo from build/,
    /copies \/repo\/node_modules from build/,
    /final stage installs packages/,
    /does not set NODE_ENV=production/,
    /USER node is not numeric/,
    /COPY source does-not-exist\.json does not exist/,
    /COPY source services\/url-service\/node_modules is excluded by \.dockerignore/,
  ]
  for (const pattern of expected)
    t.ok(
      problems.some((p) => pattern.test(p)),
      `reports ${pattern}`,
    )
  t.equal(problems.length, expected.length, problems.join('\n'))

  const single = checkDockerfile(`FROM a@sha256:${'a'.repeat(64)}\nCMD ["x"]\n`, {
    contextDir: root,
    dockerignore,
    packageName: '@zt/x',
  })
  t.ok(single.some((p) => /not multi-stage/.test(p)))
  t.ok(single.some((p) => /no USER: it would run as root/.test(p)))

  const mounted = checkDockerfile(
    [
      `FROM a@sha256:${'a'.repeat(64)} AS build`,
      'WORKDIR /repo',
      'RUN --mount=type=cache,target=/s pnpm --filter @zt/x deploy --prod /out',
      `FROM b@sha256:${'b'.repeat(64)}`,
      'ENV NODE_ENV=production',
      'COPY --from=build /out/ /app/',
      'USER 1:1',
    ].join('\n'),
    { contextDir: root, dockerignore, packageName: '@zt/x' },
  )
  t.same(mounted, [], 'RUN flags do not hide the deploy command')

  const rootUser = dockerfile.replace('USER 65532:65532', 'USER 0:0')
  t.same(checkDockerfile(rootUser, checkOptions('url-service')), ['USER 0:0 is root'])
  const wrongPackage = checkDockerfile(dockerfile, {
    ...checkOptions('api-gateway'),
    buildArgs: { SERVICE: 'frontend' },
  })
  t.ok(wrongPackage.some((p) => /does not deploy @zt\/api-gateway/.test(p)))
  t.end()
})

const BAD_COMPOSE = `
# Hardened as docker-compose.yml does it; the api-gateway alone is not.
x-hardened: &hardened
  user: "65532:65532"
  read_only: true
  cap_drop: [ALL]
  security_opt: ["no-new-privileges:true"]
  tmpfs: ["/tmp"]
services:
  db:
    image: postgres:17
    ports: ["5432:5432"]
  api-gateway:
    build: { context: . }
    user: "0:0"
    cap_add: [NET_ADMIN]
    environment:
      PORT: "8000"
      OPS_PORT: "9000"
      TRUST_DOMAIN: zt.local
      URL_SERVICE_URL: http://url-service:8443
      PUBLIC_BASE_URL: http://127.0.0.1:3000
      URL_SERVICE_TIMEOUT: "5"
    healthcheck:
      test: ["CMD", "true"]
    depends_on: [db]
  url-service:
    build: { context: . }
    <<: *hardened
    environment:
      PORT: "8443"
      OPS_PORT: "9443"
      TRUST_DOMAIN: zt.local
      SPIFFE_SVID_DIR: /svids/url-service
      DATABASE_URL: postgres://u:p@db/urls
      DB_SSL_MODE: require
      AWS_REGION: us-east-1
      AWS_ACCESS_KEY_ID: AKIAEXAMPLE
      AWS_SECRET_ACCESS_KEY: example
      AWS_ENDPOINT_URL_SQS: http://localstack:4566
      EVENTS_QUEUE_URL: http://localstack:4566/000000000000/q
    volumes: ["svids:/svids"]
    healthcheck:
      test: ["CMD", "/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:9443/readyz').then((r) => r)"]
    depends_on:
      db: { condition: service_healthy }
  frontend:
    build: { context: . }
    <<: *hardened
    ports: ["3000:8080"]
    environment: { PORT: "8080", OPS_PORT: "9080", API_GATEWAY_URL: "http://api-gateway:8000" }
    healthcheck:
      test: ["CMD", "/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:9080/readyz')"]
volumes:
  svids:
`

t.test('the compose check reports each broken rule', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-compose-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'docker-compose.yml'), BAD_COMPOSE)
  const result = composeConfig(join(dir, 'docker-compose.yml'))
  t.ok(result.config, result.output)
  const problems = result.config ? checkCompose(result.config) : []
  const expected = [
    /db: image postgres:17 is not pinned by digest/,
    /db: publishes a port; only the frontend may/,
    /api-gateway: depends_on db with service_started/,
    /api-gateway: user 0:0 is not a numeric non-root/,
    /api-gateway: root filesystem is not read_only/,
    /api-gateway: does not cap_drop ALL/,
    /api-gateway: adds capabilities NET_ADMIN/,
    /api-gateway: missing security_opt no-new-privileges/,
    /api-gateway: no tmpfs on \/tmp/,
    /api-gateway: URL_SERVICE_TIMEOUT is not in its configuration contract/,
    /api-gateway: set exactly one of SPIFFE_ENDPOINT_SOCKET, SPIFFE_SVID_DIR \(found 0\)/,
    /api-gateway: URL_SERVICE_URL http:\/\/url-service:8443 is not https/,
    /api-gateway: healthcheck does not probe the ops port 9000/,
    /url-service: depends_on db being healthy, but db has no healthcheck/,
    /url-service: DATABASE_URL bypasses Secrets Manager/,
    /url-service: DB_SSL_MODE require is neither/,
    /url-service: static AWS keys are set but AWS_ENDPOINT_URL_SECRETS_MANAGER does not point at localstack/,
    /url-service: static AWS keys are set but AWS_ENDPOINT_URL_STS does not point at localstack/,
    /url-service: the SVID volume is writable/,
    /url-service: mounts \/svids, more than its own SVID directory/,
    /url-service: healthcheck argument "fetch\(.*contains whitespace/,
    /frontend: port .* is not bound to 127\.0\.0\.1/,
  ]
  for (const pattern of expected)
    t.ok(
      problems.some((p) => pattern.test(p)),
      `reports ${pattern}`,
    )
  t.equal(problems.length, expected.length, problems.join('\n'))
  t.end()
})

t.test(
  "postgres's init hook creates a login that owns the app database and nothing more",
  async (t) => {
    // Run as the postgres image runs it: bash, psql, POSTGRES_USER set. The
    // names are unique, since roles are shared by the whole server.
    const suffix = Math.random().toString(36).slice(2, 10)
    const user = `zt_app_${suffix}`
    const database = `zt_urls_${suffix}`
    const admin = new URL(testAdminUrl())
    const run = spawnSync('bash', [join(root, 'compose/postgres/init-app-login.sh')], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        PGHOST: admin.hostname,
        PGPORT: admin.port || '5432',
        PGPASSWORD: decodeURIComponent(admin.password),
        POSTGRES_USER: decodeURIComponent(admin.username),
        ZT_APP_USER: user,
        ZT_APP_PASSWORD: "local-dev-only-p@ss'word",
        ZT_APP_DB: database,
      },
    })
    const client = new pg.Client({ connectionString: admin.toString() })
    await client.connect()
    t.teardown(async () => {
      await client.query(`drop database if exists ${database} with (force)`)
      await client.query(`drop role if exists ${user}`)
      await client.end()
    })
    t.equal(run.status, 0, `the hook succeeded: ${run.stderr}`)
    const { rows } = await client.query(
      `select r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolcanlogin,
            pg_get_userbyid(d.datdba) as owner
       from pg_roles r, pg_database d where r.rolname = $1 and d.datname = $2`,
      [user, database],
    )
    t.same(rows, [
      { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolcanlogin: true, owner: user },
    ])
  },
)
