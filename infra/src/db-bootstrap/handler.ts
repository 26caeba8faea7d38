// Custom resource (cdk custom-resources Provider onEvent): creates the
// application login in RDS once, from inside the VPC, with the master secret.
// Only this function's role may read the master secret.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import pg from 'pg'
import { ensureAppLogin } from './login.js'

interface ResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete'
  readonly PhysicalResourceId?: string
  readonly ResourceProperties: {
    readonly MasterSecretArn: string
    readonly AppSecretArn: string
    readonly AppUsername: string
  }
}

const secrets = new SecretsManagerClient({})

async function readSecret(secretId: string): Promise<Record<string, unknown>> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))
  return JSON.parse(out.SecretString ?? '{}') as Record<string, unknown>
}

export async function handler(event: ResourceEvent): Promise<{ PhysicalResourceId: string }> {
  const physicalId = event.PhysicalResourceId ?? `app-login-${event.ResourceProperties.AppUsername}`
  // Deleting the stack deletes (or snapshots) the database; leave the login alone.
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalId }

  const master = await readSecret(event.ResourceProperties.MasterSecretArn)
  const app = await readSecret(event.ResourceProperties.AppSecretArn)
  const client = new pg.Client({
    host: String(master.host),
    port: Number(master.port),
    user: String(master.username),
    password: String(master.password),
    database: String(app.dbname),
    // verify-full against the Amazon CAs the Lambda runtime ships
    // (NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem, set on the function).
    ssl: { rejectUnauthorized: true, servername: String(master.host) },
    connectionTimeoutMillis: 10_000,
  })
  await client.connect()
  try {
    await ensureAppLogin(client, {
      username: event.ResourceProperties.AppUsername,
      password: String(app.password),
      database: String(app.dbname),
    })
  } finally {
    await client.end()
  }
  return { PhysicalResourceId: physicalId }
}
