import t from 'tap'
import { runScript } from '../src/run-script.js'

const script = new URL('./fixtures/script.ts', import.meta.url).pathname

t.test('collects both streams and the exit code', async (t) => {
  const ok = await runScript(script, { GREETING: 'hello' })
  t.equal(ok.code, 0)
  t.match(ok.output, /^out hello$/m)
  const failed = await runScript(script, { EXIT_CODE: '3' })
  t.equal(failed.code, 3)
})

t.test('the script sees only the given environment and PATH', async (t) => {
  t.ok(process.env.HOME, 'the test runner has a HOME to leak')
  const result = await runScript(script, {})
  t.match(result.output, /^out unset$/m)
  t.match(result.output, /^err no HOME$/m)
})

t.test('a missing script is a failed run, with node saying why', async (t) => {
  const result = await runScript(new URL('./fixtures/none.ts', import.meta.url).pathname, {})
  t.equal(result.code, 1)
  t.match(result.output, /Cannot find module|ERR_MODULE_NOT_FOUND/)
})
