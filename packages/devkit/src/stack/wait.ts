import { connect, createServer } from 'node:net'

/** Polls an HTTP URL until it answers 200, or throws with the last failure. */
export async function waitForOk(
  url: string,
  options: { timeoutMs: number; isAlive?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (options.isAlive && !options.isAlive()) throw new Error(`exited before ${url} was ready`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (response.status === 200) return
      last = `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`
    } catch (error) {
      last = error instanceof Error ? error.message : String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  throw new Error(`${url} not ready after ${options.timeoutMs} ms (${last})`)
}

/** True when nothing listens on host:port and we may bind it. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  const connected = await new Promise<boolean>((resolve) => {
    const socket = connect({ port, host })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
  if (connected) return false
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}
