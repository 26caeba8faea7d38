import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '@zt/devkit'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { createSecretFetcher } from '../../src/db/aws.js'
import { openDatabase } from '../../src/db/database.js'
import { startFakeAws } from '../helpers/fake-aws.js'
import { silent } from '../helpers/setup.js'

const fakeJwt = [
  Buffer.from('{"alg":"RS256","kid":"test"}').toString('base64url'),
  Buffer.from(
    '{"sub":"system:serviceaccount:services:url-service","aud":"sts.amazonaws.com"}',
  ).toString('base64url'),
  'c2lnbmF0dXJl',
].join('.')

const secretId = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:url-service-db'

t.test('IRSA: the secret request is signed with what STS returned for the token', async (t) => {
  const aws = await startFakeAws()
  t.teardown(() => aws.close())
  const dir = await mkdtemp(join(tmpdir(), 'zt-irsa-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const tokenFile = join(dir, 'token')
  await writeFile(tokenFile, fakeJwt)

  // The SDK reads these per credential resolution; this file runs in its own
  // process, so no other test sees them. Nothing but the token may work.
  for (const name of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
  ]) {
    delete process.env[name]
  }
  Object.assign(process.env, {
    AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/url-service',
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ENDPOINT_URL_STS: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
  })
  aws.secrets.set(secretId, '{"username":"app","password":"pw"}')

  const fetchSecret = createSecretFetcher('eu-west-1')
  t.equal(await fetchSecret(secretId), '{"username":"app","password":"pw"}')

  t.equal(aws.sts.length, 1, 'one AssumeRoleWithWebIdentity call')
  const sts = new URLSearchParams(aws.sts[0]?.body)
  t.equal(sts.get('WebIdentityToken'), fakeJwt, 'the projected token was sent')
  t.equal(sts.get('RoleArn'), 'arn:aws:iam::123456789012:role/url-service')

  t.equal(aws.getSecretValue.length, 1)
  const headers = aws.getSecretValue[0]?.headers ?? {}
  const authorization = String(headers.authorization)
  t.match(
    authorization,
    new RegExp(
      `^AWS4-HMAC-SHA256 Credential=${aws.issued.accessKeyId}/\\d{8}/eu-west-1/secretsmanager/aws4_request`,
    ),
    'SigV4 with the access key id STS returned, in the configured region',
  )
  t.match(authorization, /SignedHeaders=[^,]*x-amz-security-token/, 'the session token is signed')
  t.equal(headers['x-amz-security-token'], aws.issued.sessionToken)

  // Credentials are cached by the provider: a second fetch assumes no role.
  await fetchSecret(secretId)
  t.equal(aws.sts.length, 1)
  t.equal(aws.getSecretValue.length, 2)

  await t.rejects(fetchSecret('unknown'), /can't find/, 'AWS errors surface')

  // The production wiring end to end: config with DB_SECRET_ARN only, an
  // RDS-managed secret fetched through the web identity, a working pool.
  const database = await createTestDatabase(t)
  aws.secrets.set(
    secretId,
    JSON.stringify({ username: database.user, password: database.password }),
  )
  const db = await openDatabase(
    loadConfig({
      DB_SECRET_ARN: secretId,
      AWS_REGION: 'eu-west-1',
      DB_HOST: database.host,
      DB_PORT: String(database.port),
      DB_NAME: database.database,
      DB_SSL_MODE: 'disable',
    }),
    { logger: silent },
  )
  t.teardown(() => db.close())
  const { rows } = await db.query<{ db: string }>('SELECT current_database() AS db')
  t.equal(rows[0]?.db, database.database)
  const last = aws.getSecretValue.at(-1)?.headers ?? {}
  t.equal(last['x-amz-security-token'], aws.issued.sessionToken, 'fetched with the role session')
})
