import { ProblemDocument } from '@zt/contracts'
import { HttpProblem } from '@zt/service-kit'
import type { FastifyBaseLogger } from 'fastify'
import type { z } from 'zod'

/** url-service's answer, read in full. */
export interface Answer {
  status: number
  body: string
  retryAfter: string | undefined
}

export const unavailable = () =>
  new HttpProblem(503, 'The URL service is unavailable. Try again shortly.', {
    headers: { 'retry-after': '1' },
  })
export const badGateway = () =>
  new HttpProblem(502, 'The URL service could not complete the request.')

// Upstream statuses that describe the caller's request and so are passed on.
// 401/403 are not among them: they mean url-service refused the gateway's own
// identity, a deployment fault the public caller cannot act on.
const passThrough = new Set([400, 404, 409, 410, 413, 415, 422, 429])

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * What url-service's answer means for the public caller: the validated body,
 * or the HttpProblem to answer with. `call` names the operation in logs.
 */
export function interpret<S extends z.ZodType>(
  call: { operation: string; ctx: { log: FastifyBaseLogger } },
  answer: Answer,
  schema: S,
): z.output<S> {
  const { status } = answer
  if (status >= 200 && status < 300) {
    const parsed = schema.safeParse(parseJson(answer.body))
    if (parsed.success) return parsed.data
    call.ctx.log.error({ operation: call.operation, status }, 'url-service sent an invalid body')
    throw badGateway()
  }
  if (passThrough.has(status)) {
    const problem = ProblemDocument.safeParse(parseJson(answer.body))
    throw new HttpProblem(status, problem.success ? problem.data.detail : 'The request failed.', {
      title: problem.success ? problem.data.title : undefined,
      type: problem.success ? problem.data.type : undefined,
      errors: problem.success ? problem.data.errors : undefined,
      headers: answer.retryAfter ? { 'retry-after': answer.retryAfter } : undefined,
    })
  }
  call.ctx.log.error({ operation: call.operation, status }, 'url-service failed')
  throw badGateway()
}
