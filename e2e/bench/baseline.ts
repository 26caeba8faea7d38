/**
 * Baselines for `pnpm bench`, each in its own process like the services:
 * `hello <port>`: a bare Fastify hello-world;
 * `hop <port> <upstream>`: a Fastify app that relays every request to the
 * hello-world over plain HTTP with an undici pool (the hop without mTLS).
 */
import Fastify from 'fastify'
import { Pool } from 'undici'

const [mode, portText, upstream] = process.argv.slice(2)
const app = Fastify({ logger: false })
if (mode === 'hello') {
  app.get('/*', async () => ({ hello: 'world' }))
} else {
  const pool = new Pool(upstream ?? 'http://127.0.0.1:1', { connections: 16 })
  app.get('/*', async (request, reply) => {
    const answer = await pool.request({ path: request.url, method: 'GET' })
    reply.code(answer.statusCode).header('content-type', 'application/json')
    return answer.body.text()
  })
}
await app.listen({ port: Number(portText), host: '127.0.0.1' })
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
