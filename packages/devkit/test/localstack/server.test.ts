import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import t from 'tap'
import { startLocalstackStandin } from '../../src/localstack/server.js'
import { sendHalfARequest } from '../fixtures/half-a-request.js'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '../../../..')

async function sqs(url: string, operation: string, input: object) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${operation}`,
      authorization:
        'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(input),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

t.test(
  'the LocalStack stand-in runs the compose init hook unchanged and serves what it made',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'zt-localstack-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const readyDir = join(dir, 'ready.d')
    const binDir = join(dir, 'bin')
    await Promise.all([
      import('node:fs/promises').then((fs) => fs.mkdir(readyDir)),
      import('node:fs/promises').then((fs) => fs.mkdir(binDir)),
    ])
    await copyFile(join(repo, 'compose/localstack/init-aws.sh'), join(readyDir, 'init-aws.sh'))
    await chmod(join(readyDir, 'init-aws.sh'), 0o755)
    // A script that is not executable is skipped, as LocalStack skips it.
    await writeFile(join(readyDir, 'zz-not-executable.sh'), 'exit 1\n', { mode: 0o644 })
    await writeFile(
      join(binDir, 'awslocal'),
      `#!/bin/sh\nexec "${process.execPath}" --conditions=zt-source --import=tsx "${join(here, '../../src/localstack/awslocal.ts')}" "$@"\n`,
      { mode: 0o755 },
    )
    Object.assign(process.env, {
      ZT_DB_SECRET_NAME: 'zt/local/database',
      ZT_DB_USER: 'zt_app',
      ZT_DB_PASSWORD: 'pw',
      ZT_DB_NAME: 'urls',
      ZT_EVENTS_QUEUE: 'zt-url-events',
    })
    const lines: string[] = []
    const standin = await startLocalstackStandin({
      host: '127.0.0.1',
      port: 0,
      localstackHost: 'localstack:4566',
      readyDir,
      binDir,
      log: (line) => lines.push(line),
    })
    t.teardown(() => standin.close())
    await standin.initialised

    const ready = (await (await fetch(`${standin.url}/_localstack/init/ready`)).json()) as {
      completed: boolean
      scripts: { name: string; state: string }[]
    }
    t.same(
      ready,
      { completed: true, scripts: [{ stage: 'READY', name: 'init-aws.sh', state: 'SUCCESSFUL' }] },
      lines.join('\n'),
    )

    const client = new SecretsManagerClient({
      region: 'us-east-1',
      endpoint: standin.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    })
    const secret = await client.send(
      new GetSecretValueCommand({
        SecretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:zt/local/database',
      }),
    )
    t.same(JSON.parse(secret.SecretString ?? '{}'), {
      engine: 'postgres',
      host: 'postgres',
      port: 5432,
      username: 'zt_app',
      password: 'pw',
      dbname: 'urls',
    })

    const queueUrl = 'http://localstack:4566/000000000000/zt-url-events'
    const found = await sqs(standin.url, 'GetQueueUrl', { QueueName: 'zt-url-events' })
    t.equal(
      found.body.QueueUrl,
      queueUrl,
      'queue URLs name LOCALSTACK_HOST, as SQS_ENDPOINT_STRATEGY=off does',
    )
    const attributes = await sqs(standin.url, 'GetQueueAttributes', {
      QueueUrl: queueUrl,
      AttributeNames: ['All'],
    })
    const redrive = JSON.parse(
      String((attributes.body.Attributes as Record<string, string>).RedrivePolicy),
    ) as { deadLetterTargetArn: string; maxReceiveCount: string | number }
    t.match(
      redrive.deadLetterTargetArn,
      /:zt-url-events-dlq$/,
      'the hook made the dead-letter queue',
    )
    t.equal(Number(redrive.maxReceiveCount), 5)

    const sent = await sqs(standin.url, 'SendMessage', { QueueUrl: queueUrl, MessageBody: 'hello' })
    t.equal(sent.status, 200)
    const received = await sqs(standin.url, 'ReceiveMessage', {
      QueueUrl: queueUrl,
      WaitTimeSeconds: 1,
    })
    t.equal((received.body.Messages as { Body: string }[])[0]?.Body, 'hello')
  },
)

t.test('a client gone halfway through its request leaves the stand-in serving', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zt-localstack-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const lines: string[] = []
  const standin = await startLocalstackStandin({
    host: '127.0.0.1',
    port: 0,
    localstackHost: 'localstack:4566',
    readyDir: dir,
    log: (line) => lines.push(line),
  })
  t.teardown(() => standin.close())
  await standin.initialised
  await sendHalfARequest(standin.url)
  const health = await fetch(`${standin.url}/_localstack/health`)
  t.equal(health.status, 200, 'still answering')
  t.match(lines.join('\n'), /POST \/: .*aborted/i, 'the failed request is logged')
})
