/**
 * `node dist/helm-test.js`: what the chart's `helm test` Job runs in the
 * frontend image (see probes.ts). Exit 0 only when every check passed.
 */
import { loadHelmTestConfig, runHelmTest } from './probes.js'

const write = (line: string) => process.stdout.write(`${line}\n`)
try {
  const passed = await runHelmTest(loadHelmTestConfig(), write)
  process.exitCode = passed ? 0 : 1
} catch (error) {
  write(`not ok: ${(error as Error).message}`)
  process.exitCode = 1
}
