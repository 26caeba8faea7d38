import { once } from 'node:events'
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import { requestListener } from './request-listener.js'

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
   * carries. A front on `front` relays requests to fauxqs with them rewritten.
   */
  acceptQueueUrls?: string[]
  front?: { host: string; port?: number }
}

export interface SqsRelayOptions {
  /** The queue a client's QueueUrl names, when it is not one of fauxqs's own URLs. */
  queueNameOf(url: string): string | undefined
  /** The URL clients see in answers (CreateQueue, GetQueueUrl, ListQueues); fauxqs's own when unset. */
  publicUrlOf?(name: string): string
}

/**
 * A request handler that relays SQS calls (JSON or query protocol) to fauxqs,
 * which knows a queue only by its own URL: QueueUrl values a client uses for
 * a queue are rewritten to fauxqs's URL of it, and, with `publicUrlOf`,
 * queue URLs in JSON answers are rewritten back.
 */
export function relayToSqs(server: FauxqsServer, options: SqsRelayOptions) {
  const toFauxqs = (url: string): string => {
    const name = options.queueNameOf(url)
    return (name && server.inspectQueue(name)?.url) || url
  }
  const toPublic = (url: string): string => {
    const name = url.split('/').at(-1) ?? ''
    return options.publicUrlOf && server.inspectQueue(name)?.url === url
      ? options.publicUrlOf(name)
      : url
  }
  const rewriteRequest = (body: string, contentType: string): string => {
    if (contentType.includes('json')) {
      try {
        const parsed = JSON.parse(body) as { QueueUrl?: unknown }
        if (typeof parsed.QueueUrl === 'string') parsed.QueueUrl = toFauxqs(parsed.QueueUrl)
        return JSON.stringify(parsed)
      } catch {
        return body
      }
    }
    const form = new URLSearchParams(body)
    const url = form.get('QueueUrl')
    if (!url) return body
    form.set('QueueUrl', toFauxqs(url))
    return form.toString()
  }
  const rewriteAnswer = (body: string, contentType: string): string => {
    if (!options.publicUrlOf || !contentType.includes('json')) return body
    try {
      const parsed = JSON.parse(body) as { QueueUrl?: unknown; QueueUrls?: unknown }
      if (typeof parsed.QueueUrl === 'string') parsed.QueueUrl = toPublic(parsed.QueueUrl)
      if (Array.isArray(parsed.QueueUrls)) {
        parsed.QueueUrls = parsed.QueueUrls.map((u) => (typeof u === 'string' ? toPublic(u) : u))
      }
      return JSON.stringify(parsed)
    } catch {
      return body
    }
  }
  return (req: IncomingMessage, res: ServerResponse, received: Buffer): void => {
    const body = Buffer.from(
      rewriteRequest(received.toString('utf8'), String(req.headers['content-type'] ?? '')),
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
        const chunks: Buffer[] = []
        answer.on('data', (chunk: Buffer) => chunks.push(chunk))
        // fauxqs gone mid-answer: the client's call fails, as it would
        // against SQS, and the process relaying it carries on.
        answer.on('error', () => res.destroy())
        answer.on('end', () => {
          const out = Buffer.from(
            rewriteAnswer(
              Buffer.concat(chunks).toString('utf8'),
              String(answer.headers['content-type'] ?? ''),
            ),
          )
          res.writeHead(answer.statusCode ?? 502, {
            ...answer.headers,
            'content-length': String(out.length),
          })
          res.end(out)
        })
      },
    )
    upstream.on('error', () => {
      res.statusCode = 502
      res.end()
    })
    upstream.end(body)
  }
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
      // url-service's defaultVisibilityTimeoutSeconds, as infra creates it.
      VisibilityTimeout: '60',
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
  const accepted = new Set(options.acceptQueueUrls ?? [])
  const relay = relayToSqs(server, {
    queueNameOf: (url) => (accepted.has(url) ? options.queueName : undefined),
  })
  const front = createServer(requestListener(relay))
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
