/**
 * The script of the `helm test` Pod, run with this machine's Node against a
 * loopback HTTP server that plays the frontend: it passes on the documented
 * API and fails on each way the public path can break.
 */
import { spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { type K8sObject, renderChart } from '../src/helm.js'

const pod = renderChart().find((object) => object.kind === 'Pod') as K8sObject
const container = (pod.spec as { containers: { command?: string[]; args: string[] }[] })
  .containers[0]
if (!container) throw new Error('no helm test Pod')
// The image's ENTRYPOINT is its node: the Pod gives args only (test/exec.test.ts).
if (container.command) throw new Error('the test Pod must not override the ENTRYPOINT')

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

async function runAgainst(handler: Handler): Promise<{ code: number; output: string }> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => handler(req, res, body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  try {
    const child = spawn(process.execPath, container?.args ?? [], {
      env: { FRONTEND_URL: `http://127.0.0.1:${port}` },
    })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    const code = await new Promise<number>((resolve) =>
      child.on('close', (status) => resolve(status ?? 1)),
    )
    return { code, output }
  } finally {
    server.close()
  }
}

/** The documented public API: 201 with a code, then 302 to the URL. */
const frontend = (
  overrides: {
    createStatus?: number
    redirectStatus?: number
    location?: (url: string) => string
  } = {},
): Handler =>
  (() => {
    const links = new Map<string, string>()
    return (req, res, body) => {
      if (req.method === 'POST' && req.url === '/api/urls') {
        const { url } = JSON.parse(body) as { url: string }
        links.set('abc123', url)
        res.writeHead(overrides.createStatus ?? 201, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ code: 'abc123', shortUrl: 'https://sho.rt/r/abc123', url }))
        return
      }
      const url = links.get(req.url?.replace('/r/', '') ?? '')
      if (req.method === 'GET' && url) {
        res.writeHead(overrides.redirectStatus ?? 302, {
          location: overrides.location?.(url) ?? url,
        })
        res.end()
        return
      }
      res.writeHead(404).end()
    }
  })()

t.test('passes when the public path works', async (t) => {
  const result = await runAgainst(frontend())
  t.equal(result.code, 0, result.output)
  t.match(result.output, /^ok: abc123 -> https:\/\/example\.com\/helm-test\//)
})

t.test('fails when shortening fails', async (t) => {
  const result = await runAgainst(frontend({ createStatus: 502 }))
  t.not(result.code, 0)
  t.match(result.output, /POST \/api\/urls: 502/)
})

t.test('fails when the short link does not redirect', async (t) => {
  const result = await runAgainst(frontend({ redirectStatus: 200 }))
  t.not(result.code, 0)
  t.match(result.output, /GET \/r\/abc123: 200/)
})

t.test('fails when the short link redirects elsewhere', async (t) => {
  const result = await runAgainst(frontend({ location: () => 'https://evil.example' }))
  t.not(result.code, 0)
  t.match(result.output, /location=https:\/\/evil\.example/)
})
