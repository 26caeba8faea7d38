import {
  CodeParams,
  CreatedUrl,
  CreateUrlRequest,
  ListQuery,
  UrlPage,
  UrlRecord,
} from '@zt/contracts'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { callContext } from '../call-context.js'
import type { UrlServiceClient } from '../url-service-client.js'
import { problems } from './problems.js'

export interface UrlRoutesOptions {
  urlService: UrlServiceClient
  /** Origin the short links live under, without a trailing slash. */
  publicBaseUrl: string
}

export const urlRoutes: FastifyPluginAsyncZod<UrlRoutesOptions> = async (app, options) => {
  const { urlService, publicBaseUrl } = options

  app.post(
    '/api/urls',
    {
      schema: {
        summary: 'Create a short link',
        tags: ['urls'],
        body: CreateUrlRequest,
        response: { 201: CreatedUrl, ...problems(400, 409, 413, 415, 429, 502, 503) },
      },
    },
    async (request, reply) => {
      const record = await urlService.create(request.body, callContext(request))
      reply.code(201).header('location', `/api/urls/${encodeURIComponent(record.code)}`)
      return {
        code: record.code,
        shortUrl: `${publicBaseUrl}/r/${encodeURIComponent(record.code)}`,
        url: record.url,
        createdAt: record.createdAt,
        expiresAt: record.expiresAt,
      }
    },
  )

  app.get(
    '/api/urls/:code',
    {
      schema: {
        summary: 'Show a short link with its click count',
        tags: ['urls'],
        params: CodeParams,
        response: { 200: UrlRecord, ...problems(400, 404, 429, 502, 503) },
      },
    },
    async (request) => urlService.get(request.params.code, callContext(request)),
  )

  app.get(
    '/api/urls',
    {
      schema: {
        summary: 'List short links, newest first',
        tags: ['urls'],
        querystring: ListQuery,
        response: { 200: UrlPage, ...problems(400, 429, 502, 503) },
      },
    },
    async (request) => urlService.list(request.query, callContext(request)),
  )
}
