import { appendFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'

export interface OtlpReceiver {
  readonly url: string
  close(): Promise<void>
}

/**
 * The smallest OTLP/HTTP trace receiver: every export to /v1/traces (OTLP
 * JSON, as OTEL_EXPORTER_OTLP_PROTOCOL=http/json sends it) is appended to
 * `file` as one line, unchanged, so what a collector would get can be read
 * with `pnpm traces` or any JSON tool.
 */
export async function startOtlpReceiver(options: {
  port: number
  file: string
}): Promise<OtlpReceiver> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const json = request.headers['content-type']?.startsWith('application/json') === true
      if (request.method !== 'POST' || request.url !== '/v1/traces' || !json) {
        response.writeHead(request.url === '/v1/traces' ? 415 : 404).end()
        return
      }
      let line: string
      try {
        // Re-serialised: one export, one line, whatever the sender's layout.
        line = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch {
        response.writeHead(400).end()
        return
      }
      appendFile(options.file, `${line}\n`).then(
        () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
        () => response.writeHead(500).end(),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(options.port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${options.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        // The exporters keep their connections alive; they are not waited for.
        server.closeAllConnections()
      }),
  }
}
