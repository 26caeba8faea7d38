#!/usr/bin/env node
/**
 * The dev SPIFFE CA: creates (or reuses) a trust domain under --dir and
 * issues short-lived SVIDs per workload, re-issuing them on an interval.
 *
 *   pnpm --filter @zt/spiffe dev-ca -- --dir .dev/spiffe --trust-domain zt.local \
 *     --workloads api-gateway,url-service --ttl 60s --rotate-every 30s
 *   node dist/dev-ca-cli.js --dir /svids ...   (the compose dev-ca container)
 *
 * Output is one plain line per event on stdout/stderr: a dev tool, not a service.
 */

function say(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`)
}

import { isAbsolute, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DevTrustDomain } from './dev-ca.js'

function duration(value: string, name: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value.trim())
  if (!match) throw new Error(`--${name} must look like 500ms, 30s, 5m or 1h`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms'] ?? 1
  return Number(match[1]) * unit
}

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    dir: { type: 'string', default: '.dev/spiffe' },
    'trust-domain': { type: 'string', default: 'zt.local' },
    workloads: { type: 'string', default: 'api-gateway,url-service' },
    ttl: { type: 'string', default: '1h' },
    'rotate-every': { type: 'string' },
    'rotate-ca-every': { type: 'string' },
  },
})

// pnpm runs scripts in the package folder; a relative --dir means the
// caller's folder, which pnpm passes as INIT_CWD.
const dir = isAbsolute(values.dir)
  ? values.dir
  : resolve(process.env.INIT_CWD ?? process.cwd(), values.dir)
const ttlMs = duration(values.ttl, 'ttl')
const workloads = values.workloads
  .split(',')
  .map((w) => w.trim())
  .filter(Boolean)
const domain = await DevTrustDomain.open(dir, values['trust-domain'])

async function issueAll(): Promise<void> {
  for (const workload of workloads) {
    const id = await domain.issue(workload, ttlMs)
    say(`issued ${id} (ttl ${values.ttl})`)
  }
}

await issueAll()
say(`trust domain ${domain.trustDomain} in ${dir}`)

const rotateEvery = values['rotate-every']
if (rotateEvery) {
  const every = duration(rotateEvery, 'rotate-every')
  const caEvery = values['rotate-ca-every']
    ? duration(values['rotate-ca-every'], 'rotate-ca-every')
    : 0
  // A CA rotation moves through its three steps one SVID lifetime apart, so
  // every workload holds a bundle with both CAs before it sees a new leaf,
  // and no SVID of the old CA is alive when the old CA leaves the bundle.
  let caStep = 0
  let lastCaStep = Date.now()
  const tick = async () => {
    if (caEvery > 0 && Date.now() - lastCaStep >= (caStep === 0 ? caEvery : ttlMs)) {
      lastCaStep = Date.now()
      if (caStep === 0) await domain.prepareCaRotation()
      else if (caStep === 1) await domain.activateNextCa()
      else domain.retirePreviousCa()
      say(`CA rotation step ${caStep + 1}/3`)
      caStep = (caStep + 1) % 3
    }
    await issueAll()
  }
  const timer = setInterval(() => {
    tick().catch((error: unknown) => {
      process.stderr.write(
        `re-issue failed: ${error instanceof Error ? error.message : String(error)}\n`,
      )
    })
  }, every)
  const stop = () => {
    clearInterval(timer)
    process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
