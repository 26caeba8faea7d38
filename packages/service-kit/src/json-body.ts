import type { FastifyInstance } from 'fastify'
import { HttpProblem } from './problem.js'

// fatal: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD.
// ignoreBOM: a BOM stays in the text, as with Fastify's own decoding.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Replaces Fastify's JSON body parser with one that refuses a body that is
 * not valid UTF-8 (RFC 8259 section 8.1) with a 400 problem. Fastify decodes
 * bodies with Buffer#toString, which puts U+FFFD where the bytes were
 * invalid: a value the caller never sent would be validated and stored.
 * Everything after decoding (empty body, syntax, prototype poisoning) is
 * Fastify's own parser, with the instance's poisoning options.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const { onProtoPoisoning = 'error', onConstructorPoisoning = 'error' } = app.initialConfig
  const parseJson = app.getDefaultJsonParser(onProtoPoisoning, onConstructorPoisoning)
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = utf8.decode(body as Buffer)
    } catch {
      done(new HttpProblem(400, 'The request body is not valid UTF-8.'), undefined)
      return
    }
    parseJson(request, text, done)
  })
}
