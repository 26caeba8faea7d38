import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export const problemContentType = 'application/problem+json; charset=utf-8'

/**
 * One thing wrong with one part of the request. `field` is the request part
 * and the member path joined with dots (`body.url`), or the part alone
 * (`body`) when the problem is with the part as a whole.
 */
export interface FieldError {
  field: string
  message: string
}

/**
 * The one error body every service returns (RFC 9457), the same shape as
 * `ProblemDocument` in @zt/contracts. `errors` is an extension member,
 * present only when the problem is about particular fields: programs read
 * it, people read `detail`.
 */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  errors?: FieldError[]
}

/**
 * An error meant for the caller. Anything else thrown in a handler becomes a
 * generic 500 whose details stay in the log.
 */
export class HttpProblem extends Error {
  readonly status: number
  readonly title: string
  readonly detail: string
  readonly type: string
  readonly errors: readonly FieldError[] | undefined
  readonly headers: Readonly<Record<string, string>>

  constructor(
    status: number,
    detail: string,
    options: {
      title?: string
      type?: string
      errors?: readonly FieldError[]
      headers?: Record<string, string>
    } = {},
  ) {
    super(detail)
    this.name = 'HttpProblem'
    this.status = status
    this.detail = detail
    this.title = options.title ?? STATUS_CODES[status] ?? 'Error'
    this.type = options.type ?? 'about:blank'
    this.errors = options.errors && options.errors.length > 0 ? options.errors : undefined
    this.headers = options.headers ?? {}
  }

  toJSON(): Problem {
    const problem: Problem = {
      type: this.type,
      title: this.title,
      status: this.status,
      detail: this.detail,
    }
    if (this.errors) problem.errors = this.errors.map(({ field, message }) => ({ field, message }))
    return problem
  }
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(problemContentType).send(problem)
}

/**
 * Fastify's `frameworkErrors` option: a malformed path or an over-long
 * parameter is answered before routing, outside the error handler, and
 * still gets a problem document.
 */
export function problemFrameworkErrors(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.statusCode ?? 400
  sendProblem(reply, {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Bad Request',
    status,
    detail: error.message,
  })
}

interface ValidationIssue {
  instancePath?: string
  message?: string
  params?: Record<string, unknown>
}

/** At most this many field errors are listed; a body that breaks more is refused all the same. */
const maxFieldErrors = 20

/**
 * The validator's issues (zod's through fastify-type-provider-zod, or Ajv's)
 * as field errors: `instancePath` `/url` in the body becomes `body.url`.
 */
export function fieldErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? 'request'
  const issues = (error.validation ?? []) as ValidationIssue[]
  return issues.slice(0, maxFieldErrors).map((issue) => {
    const path = issue.instancePath ? issue.instancePath.replace(/^\//, '').replace(/\//g, '.') : ''
    return {
      field: path ? `${context}.${path}` : context,
      message: issue.message ?? 'is invalid',
    }
  })
}

function describeValidation(error: FastifyError, errors: FieldError[]): string {
  const parts = errors.slice(0, 5).map(({ field, message }) => `${field}: ${message}`)
  return parts.length > 0 ? parts.join('; ') : `${error.validationContext ?? 'request'} is invalid`
}

/**
 * Installs the error and not-found handlers on the root instance. Call it
 * before registering routes so encapsulated plugins inherit it.
 */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, {
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: `no route for ${request.method} ${request.url.split('?')[0]}`,
    })
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpProblem) {
      reply.headers(error.headers)
      return sendProblem(reply, error.toJSON())
    }
    if (error.validation) {
      const errors = fieldErrors(error)
      return sendProblem(reply, {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: describeValidation(error, errors),
        ...(errors.length > 0 ? { errors } : {}),
      })
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Fastify's own 4xx errors (body too large, bad JSON, media type, rate
      // limit) carry messages written for clients.
      return sendProblem(reply, {
        type: 'about:blank',
        title: STATUS_CODES[status] ?? 'Bad Request',
        status,
        detail: error.message,
      })
    }
    request.log.error({ err: error }, 'request failed')
    const serverStatus = status >= 500 && status < 600 ? status : 500
    return sendProblem(reply, {
      type: 'about:blank',
      title: STATUS_CODES[serverStatus] ?? 'Internal Server Error',
      status: serverStatus,
      detail: 'The server could not complete the request.',
    })
  })
}
