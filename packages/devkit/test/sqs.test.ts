import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { type AddressInfo, createServer } from 'node:net'
import t from 'tap'
import { type FauxqsServer, relayToSqs, startLocalSqs } from '../src/sqs.js'
import { sendHalfARequest } from './fixtures/half-a-request.js'

t.test('an answer cut off halfway fails that request, not the relaying process', async (t) => {
  // Stands for fauxqs going away mid-answer: headers, part of a body, gone.
  const upstream = createServer((socket) => {
    socket.once('data', () => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 100\r\n\r\n{"Que',
      )
      setTimeout(() => socket.destroy(), 50)
    })
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  const fauxqs = {
    port: (upstream.address() as AddressInfo).port,
    inspectQueue: () => undefined,
  } as unknown as FauxqsServer
  const relay = relayToSqs(fauxqs, { queueNameOf: () => undefined })
  const front = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    relay(req, res, Buffer.concat(chunks))
  })
  front.listen(0, '127.0.0.1')
  await once(front, 'listening')
  t.teardown(() => front.close())
  const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}/`
  const call = () =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: '{"QueueUrl":"http://example/000000000000/q"}',
    }).then(
      async (response) => `answered ${response.status}: ${await response.text()}`,
      (error: unknown) => `failed: ${String(error)}`,
    )
  t.match(await call(), /^failed/, 'the cut-off answer reaches the client as a failure')
  t.match(await call(), /^failed/, 'and the relay is still there for the next call')
})

t.test(
  "a client gone halfway through its request leaves pnpm dev's SQS front serving",
  async (t) => {
    const sqs = await startLocalSqs({ queueName: 'events', front: { host: '127.0.0.1' } })
    t.teardown(() => sqs.stop())
    await sendHalfARequest(sqs.endpoint)
    const found = await fetch(sqs.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.GetQueueUrl',
        authorization:
          'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify({ QueueName: 'events' }),
    })
    t.equal(found.status, 200, 'still relaying')
  },
)
