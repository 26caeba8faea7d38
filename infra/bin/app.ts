import { App } from 'aws-cdk-lib'
import { readStackConfig } from '../src/config.js'
import { ZeroTrustEksStack } from '../src/zero-trust-eks-stack.js'

const app = new App()
const config = readStackConfig(app.node)
new ZeroTrustEksStack(app, 'ZeroTrustEks', {
  env: { account: config.account, region: config.region },
  config,
  description:
    'Zero Trust on Amazon EKS: VPC, EKS (KMS envelope encryption), RDS, SQS, workload IAM, SPIRE, app chart',
})
app.synth()
