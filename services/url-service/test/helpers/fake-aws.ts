import { type LocalAws, startLocalAws } from '@zt/devkit'

/**
 * The loopback stand-in for STS AssumeRoleWithWebIdentity and Secrets Manager
 * on one port is devkit's, so the container suite drives the same one these
 * tests do.
 */
export type FakeAws = LocalAws

export function startFakeAws(): Promise<FakeAws> {
  return startLocalAws()
}
