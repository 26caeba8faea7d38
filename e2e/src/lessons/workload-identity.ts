/**
 * Lesson 1, workload identity: url-service answers only the caller whose
 * SPIFFE ID is the api-gateway's. Present three client identities yourself,
 * then widen AUTHORIZED_CALLERS (a real configuration change and a restart)
 * and watch an SVID with the worker's ID get in.
 */
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Attempt,
  attempt,
  readSvid,
  restartUrlService,
  stackAuthority,
  workerSvid,
} from '../identity.js'
import { type Lesson, type LessonContext, LessonFailure } from './runner.js'

async function spiffeIdOf(certFile: string): Promise<string> {
  const [leaf] = (await readFile(certFile, 'utf8')).split(/(?<=-----END CERTIFICATE-----\n?)/)
  return new X509Certificate(leaf ?? '').subjectAltName?.replace(/^URI:/, '') ?? '(none)'
}

function answer(a: Attempt): string {
  if (a.outcome === 'refused') return `no HTTP answer: ${a.detail}`
  return `HTTP ${a.status} ${(a.contentType ?? '').split(';')[0]}${a.detail ? `  "${a.detail}"` : ''}`
}

export const workloadIdentity: Lesson = {
  n: 1,
  layer: 'workload identity',
  title: 'only the api-gateway may call url-service (SPIFFE mTLS)',
  blurb:
    "present the gateway's SVID, one with the worker's ID and none to url-service; widen AUTHORIZED_CALLERS and the worker gets in",
  needsStack: true,
  async start(context: LessonContext) {
    const stack = context.stack
    if (!stack) throw new Error('lesson 1 needs the local stack')
    const { say } = context
    const dir = stack.svidDir
    const gatewayId = await spiffeIdOf(join(dir, 'api-gateway', 'svid.pem'))
    // The worker never uses an SVID, so the stack issues it none; the attacker
    // holds what SPIRE would issue had someone registered it, from the same CA.
    const workerDir = await mkdtemp(join(tmpdir(), 'zt-lesson-1-worker-'))
    const minted = await workerSvid(await stackAuthority(stack), stack.trustDomain)
    await writeFile(join(workerDir, 'svid.pem'), minted.cert)
    await writeFile(join(workerDir, 'svid_key.pem'), minted.key, { mode: 0o600 })
    const workerId = await spiffeIdOf(join(workerDir, 'svid.pem'))
    say(
      'url-service listens on mutual TLS only. The TLS handshake admits any certificate chained to the\n' +
        "trust bundle (a member of the trust domain); then url-service's route authorizer admits only\n" +
        'the SPIFFE IDs in AUTHORIZED_CALLERS (default: the api-gateway). The dev SPIFFE CA has issued\n' +
        "the gateway its SVID, as SPIRE would; the lesson has minted one with the worker's ID from the\n" +
        'same CA, as SPIRE would issue it had someone registered the worker:',
    )
    context.show(
      `D=${dir}; W=${workerDir}; openssl x509 -noout -ext subjectAltName -in <dir>/svid.pem`,
      `$D/api-gateway: ${gatewayId}\n$W:             ${workerId}`,
    )
    say(
      'Each request below is shown as curl; the lesson makes it with node:https, verifying the server\n' +
        'against the bundle (SVIDs name a SPIFFE ID, not a host, so only the host-name check is skipped).\n' +
        "The attacker holds a genuine SVID of the trust domain with the worker's ID, calling url-service.",
    )
    const url = `${stack.urlServiceUrl}/v1/urls?limit=1`
    const curl = (certDir?: string) =>
      `curl --cacert $D/url-service/bundle.pem${
        certDir ? ` --cert ${certDir}/svid.pem --key ${certDir}/svid_key.pem` : ''
      } ${url}`
    const original = stack.processes['url-service'].spec.env.AUTHORIZED_CALLERS

    return {
      attackName: "an SVID with the worker's ID calls url-service",
      async attack() {
        const gateway = await attempt(
          stack,
          "the gateway's SVID",
          await readSvid(join(dir, 'api-gateway')),
        )
        context.show(`${curl('$D/api-gateway')}   # the gateway: allowed`, answer(gateway))
        const worker = await attempt(
          stack,
          "an SVID with the worker's ID",
          await readSvid(workerDir),
        )
        context.show(`${curl('$W')}   # the worker's ID: the attack`, answer(worker))
        const none = await attempt(stack, 'no client certificate', {})
        context.show(`${curl()}   # no SVID at all`, answer(none))
        if (gateway.status !== 200)
          throw new LessonFailure(
            'setup',
            `the gateway itself was not answered: ${answer(gateway)}`,
          )
        if (none.outcome !== 'refused')
          throw new LessonFailure('setup', `a caller without a certificate got ${answer(none)}`)
        if (worker.outcome === 'answered' && worker.status === 200) return false
        if (worker.status !== 403)
          throw new LessonFailure('setup', `unexpected answer to the worker: ${answer(worker)}`)
        say(
          '   The worker passed TLS (same trust domain) and was refused by the route authorizer: 403.\n' +
            '   Without a certificate the handshake itself fails (TLS alert): no HTTP at all.',
        )
        return true
      },
      async remove() {
        const widened = `${gatewayId},${workerId}`
        say('Widen the authorized callers, as someone "just letting the worker read links" would:')
        context.show(
          `AUTHORIZED_CALLERS=${widened}   # then restart url-service`,
          "(on a cluster the chart pins AUTHORIZED_CALLERS to the gateway's ID; the same change by hand is\n" +
            ` kubectl -n services set env deploy/url-service AUTHORIZED_CALLERS=${widened})`,
        )
        await restartUrlService(stack, (env) => {
          env.AUTHORIZED_CALLERS = widened
        })
        say('url-service restarted with the wider list and is ready.')
      },
      async restore() {
        context.show(
          original === undefined
            ? 'unset AUTHORIZED_CALLERS   # back to the default: the api-gateway only; restart url-service'
            : `AUTHORIZED_CALLERS=${original}   # restart url-service`,
          `(on a cluster: helm upgrade puts the chart's value back, or kubectl -n services set env deploy/url-service AUTHORIZED_CALLERS=${gatewayId})`,
        )
        await restartUrlService(stack, (env) => {
          if (original === undefined) delete env.AUTHORIZED_CALLERS
          else env.AUTHORIZED_CALLERS = original
        })
        say('url-service restarted with its own configuration and is ready.')
      },
      async after() {
        await rm(workerDir, { recursive: true, force: true })
        say(
          '\nWhat held and what did not: the TLS layer never changed (no certificate, no connection);\n' +
            'authorization is one list of IDs, and widening it let a real workload in. In this design that\n' +
            'list is configuration reviewed with the chart; NetworkPolicies (lesson 2) are the second line:\n' +
            'on a cluster the worker could not even open a connection to url-service:8443.',
        )
      },
    }
  },
}
