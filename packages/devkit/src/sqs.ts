import { once } from 'node:events'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type FauxqsServer, startFauxqs } from 'fauxqs'

export type { FauxqsServer }

export interface LocalSqs {
  readonly server: FauxqsServer
  /** The emulator's own URL of the events queue. */
  readonly queueUrl: string
  readonly queueArn: string
  readonly deadLetterQueueUrl: string
  /** Where clients send requests (AWS_ENDPOINT_URL_SQS): the front when there is one, else fauxqs. */
  readonly endpoint: string
  stop(): Promise<void>
}

export interface LocalSqsOptions {
  queueName: string
  /** fauxqs's port (0 or unset: kernel-chosen). */
  port?: number
  /** A name in fauxqs's queue URLs (`sqs.<region>.<host>:<port>`) that clients resolve to this machine. */
  host?: string
  region?: string
  /**
   * Other URLs that name the events queue, as real SQS accepts its queue's
   * URL whatever endpoint a request goes to: e.g. the https URL a Helm value
   * or a compose file carries. A front on `front` rewrites them to fauxqs's
   * URL in each request, since fauxqs knows a queue only by its own URL.
   */
  acceptQueueUrls?: string[]
  front?: { host: string; port?: number }
}

/**
 * The SQS emulator (fauxqs) with the events queue as infra creates it: a
 * dead-letter queue first, then the queue redriving to it after five
 * receives. fauxqs itself listens on every interface.
 */
export async function startLocalSqs(options: LocalSqsOptions): Promise<LocalSqs> {
  const server = await startFauxqs({
    port: options.port ?? 0,
    logger: false,
    ...(options.host ? { host: options.host } : {}),
    ...(options.region ? { defaultRegion: options.region } : {}),
  })
  const dlq = server.createQueue(`${options.queueName}-dlq`)
  const queue = server.createQueue(options.queueName, {
    attributes: {
      VisibilityTimeout: '30',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: 5 }),
    },
  })
  const base = {
    server,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    deadLetterQueueUrl: dlq.queueUrl,
  }
  if (!options.front) {
    return { ...base, endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() }
  }
  const aliases = new Set(options.acceptQueueUrls ?? [])
  const rewrite = (body: string, contentType: string): string => {
    if (contentType.includes('json')) {
      try {
        const parsed = JSON.parse(body) as { QueueUrl?: unknown }
        if (typeof parsed.QueueUrl === 'string' && aliases.has(parsed.QueueUrl)) {
          parsed.QueueUrl = queue.queueUrl
          return JSON.stringify(parsed)
        }
      } catch {}
      return body
    }
    const form = new URLSearchParams(body)
    const url = form.get('QueueUrl')
    if (url && aliases.has(url)) {
      form.set('QueueUrl', queue.queueUrl)
      return form.toString()
    }
    return body
  }
  const front = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.from(
      rewrite(Buffer.concat(chunks).toString('utf8'), String(req.headers['content-type'] ?? '')),
    )
    const upstream = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': String(body.length) },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', () => {
      res.statusCode = 502
      res.end()
    })
    upstream.end(body)
  })
  front.listen(options.front.port ?? 0, options.front.host)
  await once(front, 'listening')
  const { port } = front.address() as AddressInfo
  return {
    ...base,
    endpoint: `http://${options.front.host}:${port}`,
    stop: async () => {
      await new Promise<void>((resolve) => {
        front.closeAllConnections()
        front.close(() => resolve())
      })
      await server.stop()
    },
  }
}
