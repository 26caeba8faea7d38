import { call } from '../http.js'
import type { E2eStack } from '../stack.js'
import { clickCount, clicksReaching, createLink, sleep } from './load.js'

export interface QueueOutageResult {
  clicks: number
  counted: number
  drainedAfterMs: number
}

/** Stops the SQS emulator, follows a link `clicks` times, starts it again; every click must be counted once. */
export async function queueOutage(
  stack: E2eStack,
  downMs: number,
  clicks: number,
): Promise<QueueOutageResult> {
  const alias = await createLink(stack.apiGatewayUrl, `sqs-${Date.now().toString(36)}`)
  await stack.stopQueue()
  const stoppedAt = Date.now()
  for (let i = 0; i < clicks; i++) {
    const followed = await call(`${stack.apiGatewayUrl}/r/${alias}`)
    if (followed.status !== 302) throw new Error(`redirect during the outage: ${followed.status}`)
    await sleep(Math.floor(downMs / (clicks + 1)))
  }
  await sleep(Math.max(0, downMs - (Date.now() - stoppedAt)))
  const startedAt = Date.now()
  await stack.startQueue()
  await clicksReaching(stack, alias, clicks)
  const drainedAfterMs = Date.now() - startedAt
  // Redelivered messages would show up as extra clicks a little later.
  await sleep(2000)
  return { clicks, counted: await clickCount(stack, alias), drainedAfterMs }
}
