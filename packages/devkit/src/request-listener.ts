import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'

/**
 * A node:http request listener for a handler that wants the request's body
 * whole, as every local AWS endpoint here does. A request that fails (its
 * client gone halfway through the body, say) ends as that request's
 * failure, a 500 or a closed connection: thrown out of a listener, it would
 * end the emulator's process, and with it every service that talks to it.
 */
export function requestListener(
  handle: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>,
  log?: (line: string) => void,
): RequestListener {
  return (req, res) => {
    readBody(req)
      .then((body) => handle(req, res, body))
      .catch((error: unknown) => {
        log?.(`${req.method} ${req.url}: ${String(error)}`)
        if (!res.headersSent) res.writeHead(500)
        res.end()
      })
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
