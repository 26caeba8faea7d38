/**
 * Issue 8, item 4: `pnpm dev` from a clean state brings the whole system up,
 * a link created through the gateway redirects and its click is counted by
 * the worker, Ctrl-C leaves no process behind, and a second run keeps the data.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DevRun, freePortOffset } from '../src/dev-run.js'
import { call, poll, postJson } from '../src/http.js'
import { commandLine } from '../src/processes.js'

const stateDir = await mkdtemp(join(tmpdir(), 'zt-dev-smoke-'))
// PostgreSQL runs as its own user when we are root; it must reach its data dir.
await chmod(stateDir, 0o755)
t.teardown(() => rm(stateDir, { recursive: true, force: true }))
const { offset, ports } = await freePortOffset()
const frontend = `http://127.0.0.1:${ports.frontend}`
const gateway = `http://127.0.0.1:${ports.apiGateway}`
const alias = `smoke-${Date.now().toString(36)}`

async function stopAndCheck(t: Test, run: DevRun) {
  const tree = run.snapshot()
  t.ok(tree.length >= 6, `pnpm dev runs ${tree.length} processes below it`)
  t.ok(
    tree.some((pid) => /postgres/.test(commandLine(pid))),
    'embedded PostgreSQL is among them',
  )
  run.interrupt()
  const code = await Promise.race([
    run.exited,
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 40_000)),
  ])
  t.equal(code, 0, 'Ctrl-C: exit code 0')
  // The runner exits only after stopping its children; give the kernel a moment to reap.
  const survivors = await poll(
    'every process gone',
    async () => (run.survivors().length === 0 ? [] : undefined),
    5_000,
    100,
  ).catch(() => run.survivors())
  t.same(
    survivors.map((pid) => `${pid} ${commandLine(pid)}`),
    [],
    `none of the ${run.seen.size} processes survives`,
  )
  t.ok(
    run.lines.some((l) => l.includes('stopped; nothing left running')),
    'the runner reports a complete stop',
  )
}

t.test('first run from a clean state', async (t) => {
  const run = new DevRun(stateDir, ports, offset)
  t.teardown(() => run.kill())
  const ready = await run.waitForLine(/ready\. Open the UI/, 150_000)
  t.match(ready, `http://127.0.0.1:${ports.frontend}`, 'the first lines say where the UI is')

  const created = await postJson(`${gateway}/api/urls`, {
    url: 'https://example.com/smoke?x=1',
    alias,
  })
  t.equal(created.status, 201, 'link created through the gateway')
  t.match(created.json, { code: alias, shortUrl: `${frontend}/r/${alias}` })

  const followed = await call(`${frontend}/r/${alias}`)
  t.equal(followed.status, 302, 'the short link redirects (frontend -> gateway -> url-service)')
  t.equal(followed.location, 'https://example.com/smoke?x=1')

  const counted = await poll(
    'worker counts the click',
    async () => {
      const record = await call(`${gateway}/api/urls/${alias}`)
      const clicks = (record.json as { clicks?: number } | undefined)?.clicks
      return clicks === 1 ? record : undefined
    },
    30_000,
    500,
  )
  t.match(counted.json, { clicks: 1 }, 'the worker counted the click once')

  await stopAndCheck(t, run)
})

t.test('a second run on the same state keeps the link', async (t) => {
  const run = new DevRun(stateDir, ports, offset)
  t.teardown(() => run.kill())
  await run.waitForLine(/ready\. Open the UI/, 120_000)
  t.notMatch(run.lines.join('\n'), /initdb|initialising the database/i, 'PostgreSQL is reused')
  const record = await call(`${gateway}/api/urls/${alias}`)
  t.equal(record.status, 200, 'the link from the first run is still there')
  t.match(record.json, { code: alias, clicks: 1 })
  await stopAndCheck(t, run)
})
