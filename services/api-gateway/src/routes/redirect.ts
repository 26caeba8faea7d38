import { CodeParams, maxUrlLength } from '@zt/contracts'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { callContext } from '../call-context.js'
import type { UrlServiceClient } from '../url-service-client.js'
import { problems } from './problems.js'

export interface RedirectRoutesOptions {
  urlService: UrlServiceClient
}

/** Browsers send these headers freely; cut them to what the contract accepts. */
function header(value: string | string[] | undefined, max: number): string | undefined {
  const first = Array.isArray(value) ? value[0] : value
  return first === undefined || first === '' ? undefined : first.slice(0, max)
}

export const redirectRoutes: FastifyPluginAsyncZod<RedirectRoutesOptions> = async (
  app,
  options,
) => {
  app.get(
    '/r/:code',
    {
      // A HEAD from a link checker must not count as a visit.
      exposeHeadRoute: false,
      schema: {
        summary: 'Follow a short link',
        tags: ['redirect'],
        params: CodeParams,
        response: {
          302: z.null().describe('Redirect; the Location header holds the target'),
          ...problems(400, 404, 410, 429, 502, 503),
        },
      },
    },
    async (request, reply) => {
      const { url } = await options.urlService.resolve(
        request.params.code,
        {
          referrer: header(request.headers.referer, maxUrlLength),
          userAgent: header(request.headers['user-agent'], 512),
        },
        callContext(request),
      )
      // Each visit is counted, so neither browsers nor shared caches may keep it.
      reply.header('cache-control', 'private, no-store')
      return reply.redirect(url, 302)
    },
  )
}
