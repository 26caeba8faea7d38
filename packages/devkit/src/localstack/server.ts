import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { startFauxqs } from 'fauxqs'
import { requestListener } from '../request-listener.js'
import { readSecretsManagerRequest, SecretsStore } from '../secrets-manager.js'
import { relayToSqs } from '../sqs.js'

/**
 * A stand-in for the LocalStack container of docker-compose.yml, for a
 * machine that cannot pull LocalStack's image. It keeps the contract the
 * compose file relies on, not LocalStack's internals:
 *
 * - one port (4566) for Secrets Manager (devkit's SecretsStore), SQS
 *   (fauxqs, behind a relay) and STS GetCallerIdentity;
 * - SQS_ENDPOINT_STRATEGY=off with LOCALSTACK_HOST: queue URLs are
 *   http://<LOCALSTACK_HOST>/<account>/<queue>, in answers and in requests;
 * - the init hooks in /etc/localstack/init/ready.d run once it serves, each
 *   executable *.sh in name order, with `awslocal` on PATH (awslocal.ts, the
 *   subset of the AWS CLI the hooks use), and
 *   GET /_localstack/init/ready reports them as LocalStack does.
 */

export interface InitScript {
  stage: 'READY'
  name: string
  state: 'UNKNOWN' | 'RUNNING' | 'SUCCESSFUL' | 'ERROR'
}

export interface LocalstackStandin {
  readonly url: string
  readonly scripts: InitScript[]
  /** Resolves when every init script has finished, successful or not. */
  readonly initialised: Promise<void>
  close(): Promise<void>
}

export interface LocalstackOptions {
  host?: string
  port?: number
  /** LOCALSTACK_HOST, e.g. localstack:4566: the host of every queue URL. */
  localstackHost: string
  region?: string
  /** Where the ready-stage hooks are (LocalStack: /etc/localstack/init/ready.d). */
  readyDir?: string
  /** The directory holding the `awslocal` command the hooks call. */
  binDir?: string
  log?: (line: string) => void
}

const account = '000000000000'

export async function startLocalstackStandin(
  options: LocalstackOptions,
): Promise<LocalstackStandin> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const region = options.region ?? 'us-east-1'
  const sqs = await startFauxqs({ port: 0, logger: false, defaultRegion: region })
  const relay = relayToSqs(sqs, {
    queueNameOf: (url) => {
      const match = /^https?:\/\/([^/]+)\/(\d{12})\/([^/]+)$/.exec(url)
      return match?.[1] === options.localstackHost ? match[3] : undefined
    },
    publicUrlOf: (name) => `http://${options.localstackHost}/${account}/${name}`,
  })
  const secrets = new SecretsStore()
  const scripts: InitScript[] = []
  let completed = false
  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const json = (status: number, value: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type })
      res.end(JSON.stringify(value))
    }
    if (req.method === 'GET' && req.url === '/_localstack/init/ready') {
      return json(200, { completed, scripts })
    }
    if (req.method === 'GET' && req.url === '/_localstack/health') {
      return json(200, {
        services: { secretsmanager: 'running', sqs: 'running', sts: 'running' },
        edition: 'community',
        version: 'zt-standin',
      })
    }
    const secretsRequest = readSecretsManagerRequest(req.headers['x-amz-target'], body.toString())
    if (secretsRequest) {
      const answer = secrets.handle(secretsRequest.operation, secretsRequest.input)
      return json(answer.status, answer.body, 'application/x-amz-json-1.1')
    }
    const form = new URLSearchParams(body.toString())
    if (form.get('Action') === 'GetCallerIdentity') {
      res.writeHead(200, { 'content-type': 'text/xml' })
      res.end(
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::${account}:root</Arn><UserId>${account}</UserId><Account>${account}</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`,
      )
      return
    }
    relay(req, res, body)
  }
  const server: Server = createServer(requestListener(handle, log))
  server.listen(options.port ?? 4566, options.host ?? '0.0.0.0')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  log(`zt localstack stand-in: Secrets Manager, SQS (fauxqs), STS on :${port}`)

  const runHooks = async () => {
    const dir = options.readyDir ?? '/etc/localstack/init/ready.d'
    const names = (await readdir(dir).catch(() => [] as string[]))
      .filter((n) => n.endsWith('.sh'))
      .sort()
    for (const name of names) {
      const path = join(dir, name)
      // LocalStack runs only executable scripts.
      if (!((await stat(path)).mode & 0o111)) continue
      scripts.push({ stage: 'READY', name, state: 'UNKNOWN' })
    }
    for (const script of scripts) {
      script.state = 'RUNNING'
      log(`running init script ${script.name}`)
      const child = spawn(join(dir, script.name), [], {
        env: {
          ...process.env,
          PATH: `${options.binDir ?? '/usr/local/bin'}:${process.env.PATH ?? ''}`,
          AWS_ENDPOINT_URL: url,
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      })
      const [code] = (await once(child, 'exit')) as [number | null]
      script.state = code === 0 ? 'SUCCESSFUL' : 'ERROR'
      log(`init script ${script.name}: ${script.state}${code === 0 ? '' : ` (exit ${code})`}`)
    }
    completed = true
  }
  const initialised = runHooks()
  return {
    url,
    scripts,
    initialised,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
      await sqs.stop()
    },
  }
}
