import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  headers: IncomingHttpHeaders
  body: string
}

export interface FakeAws {
  url: string
  /** Secret values by SecretId; change them to simulate rotation. */
  secrets: Map<string, string>
  sts: RecordedRequest[]
  getSecretValue: RecordedRequest[]
  /** What AssumeRoleWithWebIdentity hands out. */
  issued: { accessKeyId: string; secretAccessKey: string; sessionToken: string }
  close(): Promise<void>
}

/**
 * A loopback stand-in for the two AWS APIs the credential path calls: STS
 * AssumeRoleWithWebIdentity (query protocol, XML) and Secrets Manager
 * GetSecretValue (JSON 1.1). It records requests so tests can check what the
 * SDK actually sent.
 */
export async function startFakeAws(): Promise<FakeAws> {
  const state: Omit<FakeAws, 'url' | 'close'> = {
    secrets: new Map(),
    sts: [],
    getSecretValue: [],
    issued: {
      accessKeyId: 'ASIAFAKEIRSAKEY00001',
      secretAccessKey: 'fake-secret-access-key-from-sts',
      sessionToken: 'fake-session-token-from-sts',
    },
  }
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const target = req.headers['x-amz-target']
    if (target === 'secretsmanager.GetSecretValue') {
      state.getSecretValue.push({ headers: req.headers, body })
      const { SecretId } = JSON.parse(body) as { SecretId: string }
      const value = state.secrets.get(SecretId)
      res.setHeader('content-type', 'application/x-amz-json-1.1')
      if (value === undefined) {
        res.statusCode = 400
        res.end(
          JSON.stringify({
            __type: 'ResourceNotFoundException',
            message: "Secrets Manager can't find the specified secret.",
          }),
        )
        return
      }
      res.end(
        JSON.stringify({
          ARN: SecretId,
          Name: 'db',
          SecretString: value,
          VersionId: 'v1',
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        }),
      )
      return
    }
    const form = new URLSearchParams(body)
    if (form.get('Action') === 'AssumeRoleWithWebIdentity') {
      state.sts.push({ headers: req.headers, body })
      const expiration = new Date(Date.now() + 3600_000).toISOString()
      res.setHeader('content-type', 'text/xml')
      res.end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:services:url-service</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/url-service/session</Arn>
      <AssumedRoleId>AROAFAKEROLEID:session</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${state.issued.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${state.issued.secretAccessKey}</SecretAccessKey>
      <SessionToken>${state.issued.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <Provider>oidc.eks.eu-west-1.amazonaws.com/id/FAKE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`)
      return
    }
    res.statusCode = 400
    res.end('unexpected request')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    ...state,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
