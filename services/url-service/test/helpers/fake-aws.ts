import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readSecretsManagerRequest, SecretsStore } from '@zt/devkit'

export interface RecordedRequest {
  headers: IncomingHttpHeaders
  body: string
}

export interface FakeAws {
  url: string
  /** Secrets by SecretId (devkit's local Secrets Manager); set them to simulate rotation. */
  secrets: SecretsStore
  sts: RecordedRequest[]
  getSecretValue: RecordedRequest[]
  /** What AssumeRoleWithWebIdentity hands out. */
  issued: { accessKeyId: string; secretAccessKey: string; sessionToken: string }
  close(): Promise<void>
}

/**
 * A loopback stand-in for the two AWS APIs the credential path calls: STS
 * AssumeRoleWithWebIdentity (query protocol, XML) and Secrets Manager
 * (devkit's local implementation, which the dev stack uses too) on one port.
 * It records requests so tests can check what the SDK actually sent.
 */
export async function startFakeAws(): Promise<FakeAws> {
  const state: Omit<FakeAws, 'url' | 'close'> = {
    secrets: new SecretsStore(),
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
