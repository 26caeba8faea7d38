import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'

/**
 * A node:http request listener from an async handler. A request that fails
 * (its client gone halfway through the body, say) ends as that request's
 * failure, a 500 or a closed connection: thrown out of a listener, it would
 * end the emulator's process, and with it every service that talks to it.
 */
export function requestListener(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  log?: (line: string) => void,
): RequestListener {
  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      log?.(`${req.method} ${req.url}: ${String(error)}`)
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  }
}
