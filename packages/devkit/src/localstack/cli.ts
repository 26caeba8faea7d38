#!/usr/bin/env node
/**
 * The LocalStack stand-in's container entry point (server.ts): listens on
 * 0.0.0.0:4566, names queue URLs after LOCALSTACK_HOST, runs the ready.d
 * hooks, and stops on SIGTERM as a container should.
 */
import { startLocalstackStandin } from './server.js'

const standin = await startLocalstackStandin({
  localstackHost: process.env.LOCALSTACK_HOST ?? 'localhost.localstack.cloud:4566',
  region: process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
  ...(process.env.ZT_AWSLOCAL_DIR ? { binDir: process.env.ZT_AWSLOCAL_DIR } : {}),
})
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void standin.close().then(() => process.exit(0))
  })
}
