import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { E2eStack } from '../stack.js'
import { createLink, gatewayTraffic, type LoadCount, loadUntil, sleep } from './load.js'

async function svidSerial(stack: E2eStack, workload: string): Promise<string> {
  const pem = await readFile(join(stack.svidDir, workload, 'svid.pem'), 'utf8')
  return pem.slice(30, 90)
}

/** Requests flow while the dev CA re-issues every SVID; counts rotations seen. */
export async function svidRotationUnderLoad(
  stack: E2eStack,
  durationMs: number,
): Promise<LoadCount & { rotations: number }> {
  const alias = await createLink(stack.apiGatewayUrl, `rot-${Date.now().toString(36)}`)
  const serials = new Set<string>()
  let watching = true
  const watcher = (async () => {
    while (watching) {
      serials.add(await svidSerial(stack, 'url-service').catch(() => ''))
      serials.add(await svidSerial(stack, 'api-gateway').catch(() => ''))
      await sleep(250)
    }
  })()
  const count = await loadUntil(4, gatewayTraffic(stack.apiGatewayUrl, alias), sleep(durationMs))
  watching = false
  await watcher
  serials.delete('')
  return { ...count, rotations: serials.size - 2 }
}
