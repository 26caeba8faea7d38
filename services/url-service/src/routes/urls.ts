import {
  CodeParams,
  CreateUrlRequest,
  internalRoutes,
  ListQuery,
  ResolveRequest,
  type ResolveResponse,
  type UrlPage,
  type UrlRecord,
} from '@zt/contracts'
import { HttpProblem } from '@zt/service-kit'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { decodeCursor } from '../cursor.js'
import type { Callers } from '../mtls.js'
import type { UrlStore } from '../store.js'
import type { VisitRecorder } from '../visits.js'

export interface UrlRoutesOptions {
  store: UrlStore
  visits: VisitRecorder
  /** Who may call each route (`config.spiffe`), enforced when the app serves mTLS. */
  callers: Callers
}

const notFound = (code: string) => new HttpProblem(404, `no short URL with code "${code}"`)

/** The internal API the api-gateway calls; bodies and params validated by @zt/contracts. */
export const urlRoutes: FastifyPluginAsyncZod<UrlRoutesOptions> = async (
  app,
  { store, visits, callers },
) => {
  app.post(
    internalRoutes.urls,
    { config: { spiffe: callers.gateway }, schema: { body: CreateUrlRequest } },
    async (request, reply): Promise<UrlRecord> => {
      const record = await store.create(request.body)
      reply.code(201)
      return record
    },
  )

  app.get(
    internalRoutes.urls,
    { config: { spiffe: callers.gateway }, schema: { querystring: ListQuery } },
    async (request): Promise<UrlPage> => {
      const { limit, cursor } = request.query
      const after = cursor === undefined ? undefined : decodeCursor(cursor)
      if (cursor !== undefined && !after)
        throw new HttpProblem(400, 'querystring.cursor: is not a valid cursor', {
          errors: [{ field: 'querystring.cursor', message: 'is not a valid cursor' }],
        })
      return store.list(limit, after)
    },
  )

  app.get(
    internalRoutes.url,
    { config: { spiffe: callers.gateway }, schema: { params: CodeParams } },
    async (request): Promise<UrlRecord> => {
      const record = await store.get(request.params.code)
      if (!record) throw notFound(request.params.code)
      return record
    },
  )

  app.post(
    internalRoutes.resolve,
    { config: { spiffe: callers.gateway }, schema: { params: CodeParams, body: ResolveRequest } },
    async (request): Promise<ResolveResponse> => {
      const { code } = request.params
      const result = await store.resolve(code)
      if (result.status === 'missing') throw notFound(code)
      if (result.status === 'expired')
        throw new HttpProblem(410, `the short URL "${code}" has expired`)
      // The referrer and user agent the gateway still forwards are not kept:
      // nothing consumes them (docs/events.md, "Per-visit fields").
      await visits
        .record({ code, at: new Date() })
        .catch((error: unknown) => request.log.warn({ err: error }, 'could not record the visit'))
      return { url: result.url }
    },
  )
}
