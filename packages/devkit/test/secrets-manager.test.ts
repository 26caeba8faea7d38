import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager'
import t from 'tap'
import { startLocalSecretsManager } from '../src/secrets-manager.js'
import { sendHalfARequest } from './fixtures/half-a-request.js'

const local = await startLocalSecretsManager()
t.teardown(() => local.close())
const client = new SecretsManagerClient({
  region: 'us-east-1',
  endpoint: local.url,
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
})
t.teardown(() => client.destroy())

const value = async (SecretId: string, VersionStage?: string) =>
  (
    await client.send(
      new GetSecretValueCommand({ SecretId, ...(VersionStage ? { VersionStage } : {}) }),
    )
  ).SecretString

t.test('the AWS SDK creates and reads a secret by name or ARN', async (t) => {
  const created = await client.send(new CreateSecretCommand({ Name: 'db', SecretString: 'v1' }))
  t.match(created.ARN, /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:db$/)
  t.equal(await value('db'), 'v1')
  t.equal(await value(created.ARN ?? ''), 'v1')
  await t.rejects(client.send(new CreateSecretCommand({ Name: 'db', SecretString: 'x' })), {
    name: 'ResourceExistsException',
  })
  await t.rejects(value('missing'), { name: 'ResourceNotFoundException' })
})

t.test("single-user rotation's steps move the stages as Secrets Manager does", async (t) => {
  const before = await client.send(new DescribeSecretCommand({ SecretId: 'db' }))
  const [currentId] = Object.entries(before.VersionIdsToStages ?? {}).find(([, s]) =>
    s.includes('AWSCURRENT'),
  ) ?? ['']
  // createSecret: the new value under AWSPENDING; AWSCURRENT is untouched.
  await client.send(
    new PutSecretValueCommand({
      SecretId: 'db',
      ClientRequestToken: '11111111-2222-3333-4444-555555555555',
      SecretString: 'v2',
      VersionStages: ['AWSPENDING'],
    }),
  )
  t.equal(await value('db'), 'v1', 'AWSCURRENT still holds the old value')
  t.equal(await value('db', 'AWSPENDING'), 'v2')
  // finishSecret: AWSCURRENT moves, the old version becomes AWSPREVIOUS.
  await t.rejects(
    client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: 'db',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: '11111111-2222-3333-4444-555555555555',
      }),
    ),
    { name: 'InvalidParameterException' },
    'moving AWSCURRENT must name the version it leaves',
  )
  await client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: 'db',
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: '11111111-2222-3333-4444-555555555555',
      RemoveFromVersionId: currentId,
    }),
  )
  t.equal(await value('db'), 'v2')
  t.equal(await value('db', 'AWSPREVIOUS'), 'v1')
  const after = await client.send(new DescribeSecretCommand({ SecretId: 'db' }))
  t.same(after.VersionIdsToStages?.[currentId ?? ''], ['AWSPREVIOUS'])
})

t.test('an unsigned request is refused', async (t) => {
  const res = await fetch(local.url, {
    method: 'POST',
    headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' },
    body: JSON.stringify({ SecretId: 'db' }),
  })
  t.equal(res.status, 400)
  t.match(await res.json(), { __type: 'MissingAuthenticationTokenException' })
  t.notOk(
    local.requests.some((r) => r.headers.authorization === undefined),
    'never served',
  )
})

t.test('a client gone halfway through its request leaves the endpoint serving', async (t) => {
  await sendHalfARequest(local.url)
  const res = await fetch(local.url, { method: 'POST' })
  t.equal(res.status, 400, 'still answering')
})
