import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { requestListener } from './request-listener.js'
import { readSecretsManagerRequest, SecretsStore } from './secrets-manager.js'

/**
 * The two AWS APIs a pod's credential path calls, on one port: STS
 * AssumeRoleWithWebIdentity (query protocol, XML), which IRSA's token file
 * leads the SDK to, and Secrets Manager (devkit's SecretsStore). The SDK
 * reaches it through AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_SECRETS_MANAGER.
 * Requests are recorded so a test can check what the SDK really sent: the
 * projected token, the role, and the key STS handed out in the signature.
 */

export interface RecordedAwsRequest {
  headers: IncomingHttpHeaders
  body: string
}

export interface IssuedCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string
}

export interface LocalAws {
  /** The endpoint for AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  readonly url: string
  /** Secrets by SecretId; set them to arrange or rotate a secret. */
  readonly secrets: SecretsStore
  /** Every AssumeRoleWithWebIdentity call, in order. */
  readonly sts: RecordedAwsRequest[]
  /** Every GetSecretValue call, in order. */
  readonly getSecretValue: RecordedAwsRequest[]
  /** What AssumeRoleWithWebIdentity hands out. */
  readonly issued: IssuedCredentials
  close(): Promise<void>
}

export interface LocalAwsOptions {
  /** Address to listen on (default 127.0.0.1), e.g. a container network's gateway. */
  host?: string
  /** 0 or unset: kernel-chosen. */
  port?: number
  issued?: IssuedCredentials
}

/** The claims a test needs from a projected service account token (no signature check: STS does that in AWS). */
function claims(token: string | null): { sub: string; aud: string } {
  try {
    const payload = JSON.parse(Buffer.from(token?.split('.')[1] ?? '', 'base64url').toString()) as {
      sub?: unknown
      aud?: unknown
    }
    // A projected token's aud is a list; STS reports the one it matched.
    const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud
    return {
      sub: typeof payload.sub === 'string' ? payload.sub : '',
      aud: typeof aud === 'string' ? aud : '',
    }
  } catch {
    return { sub: '', aud: '' }
  }
}

function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A short-lived-looking access key triple, distinct per call site. */
export function fakeCredentials(prefix = 'ASIALOCAL'): IssuedCredentials {
  const suffix = randomBytes(8).toString('hex').toUpperCase()
  return {
    accessKeyId: `${prefix}${suffix}`.slice(0, 20),
    secretAccessKey: randomBytes(30).toString('base64url'),
    sessionToken: randomBytes(48).toString('base64url'),
  }
}

export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const state = {
    secrets: new SecretsStore(),
    sts: [] as RecordedAwsRequest[],
    getSecretValue: [] as RecordedAwsRequest[],
    issued: options.issued ?? {
      accessKeyId: 'ASIAFAKEIRSAKEY00001',
      secretAccessKey: 'fake-secret-access-key-from-sts',
      sessionToken: 'fake-session-token-from-sts',
    },
  }
  const handle = (req: IncomingMessage, res: ServerResponse, received: Buffer) => {
    const body = received.toString('utf8')
    const secretsRequest = readSecretsManagerRequest(req.headers['x-amz-target'], body)
    if (secretsRequest) {
      if (secretsRequest.operation === 'GetSecretValue') {
        state.getSecretValue.push({ headers: req.headers, body })
      }
      const answer = state.secrets.handle(secretsRequest.operation, secretsRequest.input)
      res.setHeader('content-type', 'application/x-amz-json-1.1')
      res.statusCode = answer.status
      res.end(JSON.stringify(answer.body))
      return
    }
    const form = new URLSearchParams(body)
    if (form.get('Action') === 'AssumeRoleWithWebIdentity') {
      state.sts.push({ headers: req.headers, body })
      const token = claims(form.get('WebIdentityToken'))
      const role = form.get('RoleArn') ?? ''
      const session = form.get('RoleSessionName') ?? 'session'
      const expiration = new Date(Date.now() + 3600_000).toISOString()
      const { issued } = state
      res.setHeader('content-type', 'text/xml')
      res.end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${escapeXml(token.sub)}</SubjectFromWebIdentityToken>
    <Audience>${escapeXml(token.aud)}</Audience>
    <AssumedRoleUser>
      <Arn>${escapeXml(role.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/'))}/${escapeXml(session)}</Arn>
      <AssumedRoleId>AROALOCALROLEID:${escapeXml(session)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${issued.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${issued.secretAccessKey}</SecretAccessKey>
      <SessionToken>${issued.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <Provider>oidc.eks.local/id/LOCAL</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`)
      return
    }
    res.statusCode = 400
    res.end('unexpected request')
  }
  const server = createServer(requestListener(handle))
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  await once(server, 'listening')
  const { address, port } = server.address() as AddressInfo
  return {
    ...state,
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export interface PodIdentityAgent {
  /** What AWS_CONTAINER_CREDENTIALS_FULL_URI points at. */
  readonly url: string
  /** Every credentials request: the Authorization header it carried and what it got. */
  readonly requests: { authorization: string; status: number; role?: string }[]
  close(): Promise<void>
}

/**
 * The EKS Pod Identity agent's credentials endpoint (GET /v1/credentials):
 * the SDK sends the projected token file's content as Authorization and
 * gets the associated role's credentials as JSON. `associations` maps each
 * token handed to a pod to the role and credentials of its association;
 * any other token is refused with 403, as the agent refuses an unknown one.
 */
export async function startPodIdentityAgent(options: {
  host: string
  port?: number
  associations: Map<string, { roleArn: string; credentials: IssuedCredentials }>
}): Promise<PodIdentityAgent> {
  const requests: PodIdentityAgent['requests'] = []
  const server = createServer((req, res) => {
    const authorization = String(req.headers.authorization ?? '')
    const association = options.associations.get(authorization)
    res.setHeader('content-type', 'application/json')
    if (req.method !== 'GET' || req.url !== '/v1/credentials' || !association) {
      requests.push({ authorization, status: 403 })
      res.statusCode = 403
      res.end(JSON.stringify({ message: 'unknown or missing token' }))
      return
    }
    requests.push({ authorization, status: 200, role: association.roleArn })
    const { credentials } = association
    res.end(
      JSON.stringify({
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        Token: credentials.sessionToken,
        AccountId: association.roleArn.split(':')[4] ?? '',
        Expiration: new Date(Date.now() + 3600_000).toISOString(),
      }),
    )
  })
  server.listen(options.port ?? 80, options.host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${options.host}${port === 80 ? '' : `:${port}`}/v1/credentials`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
