/**
 * Lesson 3, cloud identity: one IAM role per workload. The policies are
 * the ones infra/ synthesizes (the CDK stack's template, built in this
 * process); the local AWS emulators accept any signature and evaluate no
 * policy, so a small IAM evaluator (./iam.ts) decides each request. This is
 * the policy model, not AWS.
 */
import {
  type Decision,
  evaluate,
  type PolicyDocument,
  resolveIntrinsics,
  type Statement,
} from './iam.js'
import { type Lesson, type LessonContext, LessonFailure } from './runner.js'

interface RoleResource {
  Type: string
  Properties: {
    AssumeRolePolicyDocument: PolicyDocument
    Policies?: { PolicyName?: string; PolicyDocument: PolicyDocument }[]
    Description?: string
  }
}

const env = { account: '123456789012', region: 'eu-west-1' }

/**
 * The stack as infra synthesizes it, intrinsics resolved; the two app roles
 * and the queue. aws-cdk-lib is imported here, not at the top: it takes
 * seconds, and only this lesson needs it.
 */
async function synthesizedRoles() {
  const { synthesize } = await import('../../../infra/test/helpers.js')
  const { resources } = synthesize()
  // CDK logical IDs are the construct path plus an 8-digit hash.
  const find = (type: string, prefix: string) => {
    const pattern = new RegExp(`^${prefix}[0-9A-F]{8}$`)
    const ids = Object.keys(resources).filter(
      (id) => resources[id]?.Type === type && pattern.test(id),
    )
    if (ids.length !== 1)
      throw new Error(`expected one ${type} ${prefix}<hash>, found ${ids.length}`)
    return ids[0] as string
  }
  const role = (prefix: string) => {
    const id = find('AWS::IAM::Role', prefix)
    return {
      id,
      resource: resolveIntrinsics(resources[id], resources, env) as RoleResource,
    }
  }
  const queueId = find('AWS::SQS::Queue', 'DataEvents')
  const clusterId = find('AWS::EKS::Cluster', 'Cluster')
  return {
    urlService: role('UrlServiceIdentityRole'),
    worker: role('WorkerIdentityRole'),
    queueArn: resolveIntrinsics({ 'Fn::GetAtt': [queueId, 'Arn'] }, resources, env) as string,
    clusterArn: resolveIntrinsics({ 'Fn::GetAtt': [clusterId, 'Arn'] }, resources, env) as string,
  }
}

const permissions = (role: RoleResource): PolicyDocument[] =>
  (role.Properties.Policies ?? []).map((p) => p.PolicyDocument)

function explain(decision: Decision): string {
  if (decision.decision === 'ImplicitDeny')
    return 'ImplicitDeny: no statement allows it (AccessDenied on AWS)'
  const sids = decision.statements
    .map((s) => s.Sid ?? `${s.Effect} ${JSON.stringify(s.Action)} (no Sid)`)
    .join(', ')
  return `${decision.decision}: ${sids}`
}

export const cloudIdentity: Lesson = {
  n: 3,
  layer: 'cloud identity',
  title: 'one least-privilege IAM role per workload (IRSA or Pod Identity)',
  blurb:
    "the worker's role cannot publish to the queue or assume url-service's role; widen its policy and it can (policy model, no stack)",
  needsStack: false,
  async start(context: LessonContext) {
    const { say } = context
    say(
      'This lesson evaluates the POLICY MODEL, not AWS. The policies are the ones infra/ synthesizes:\n' +
        'the CDK stack (infra/src/zero-trust-eks-stack.ts) is built in this process and its template\n' +
        'read. The local AWS endpoints of `pnpm dev` accept any signature and evaluate no IAM policy,\n' +
        'so a small evaluator (e2e/src/lessons/iam.ts: Allow/Deny, Action and Resource wildcards,\n' +
        'StringEquals/StringLike conditions, explicit deny wins) decides each request. Not modelled:\n' +
        'SCPs, permission boundaries, session policies, resource and key policies, which can only\n' +
        'narrow what is shown here.',
    )
    const synthesized = await synthesizedRoles()
    const { urlService, worker, queueArn, clusterArn } = synthesized
    context.show(
      "pnpm --filter @zt/infra exec cdk synth ZeroTrustEks   # infra's test configuration: account 123456789012, eu-west-1, Pod Identity",
      [urlService, worker]
        .map(
          (r) =>
            `${r.id} (${r.resource.Properties.Description}):\n${permissions(r.resource)
              .flatMap((p) => (Array.isArray(p.Statement) ? p.Statement : [p.Statement]))
              .map(
                (s) => `  ${s.Sid}: ${JSON.stringify(s.Action)} on ${JSON.stringify(s.Resource)}`,
              )
              .join('\n')}`,
        )
        .join('\n'),
    )
    say(
      'The attack: a compromised worker publishes forged click events, sqs:SendMessage on the events\n' +
        'queue, with the credentials its pod has (its own role). url-service, whose job that is, is the control.',
    )
    let workerRole = structuredClone(worker.resource)
    const send = { action: 'sqs:SendMessage', resource: queueArn }

    return {
      attackName: "the worker's role sends to the events queue",
      async attack() {
        const own = evaluate(permissions(urlService.resource), send)
        const forged = evaluate(permissions(workerRole), send)
        context.show(
          `aws sqs send-message --queue-url <events queue> --message-body '{...}'   # as url-service`,
          explain(own),
        )
        context.show(
          `aws sqs send-message --queue-url <events queue> --message-body '{"forged":true}'   # as the worker`,
          explain(forged),
        )
        if (own.decision !== 'Allow')
          throw new LessonFailure('setup', "url-service's own role cannot send: the model is wrong")
        return forged.decision !== 'Allow'
      },
      async remove() {
        say(
          "Widen the worker's policy the way convenience does it: one more statement, sqs:* on *.\n" +
            '(A real change to the synthesized template, as a hand edit in the console or a broad\n' +
            'grant in the CDK code would make.)',
        )
        const broad: Statement = {
          Sid: 'Convenience',
          Effect: 'Allow',
          Action: 'sqs:*',
          Resource: '*',
        }
        workerRole = structuredClone(worker.resource)
        workerRole.Properties.Policies = [
          ...(workerRole.Properties.Policies ?? []),
          {
            PolicyName: 'Convenience',
            PolicyDocument: { Version: '2012-10-17', Statement: [broad] },
          },
        ]
        context.show(
          `aws iam put-role-policy --role-name ${worker.id} --policy-name Convenience --policy-document '${JSON.stringify({ Version: '2012-10-17', Statement: [broad] })}'`,
          '(no output)',
        )
      },
      async restore() {
        workerRole = structuredClone((await synthesizedRoles()).worker.resource)
        context.show(
          `aws iam delete-role-policy --role-name ${worker.id} --policy-name Convenience   # or: cdk deploy, which puts back what infra synthesizes`,
          '(no output)',
        )
      },
      async after() {
        say(
          "\n== 6. Another role's credentials: can the worker's pod get url-service's role?\n" +
            "With EKS Pod Identity the agent asks STS for the role of the pod's association, tagging the\n" +
            "session with the pod's namespace and service account. Each role's trust policy names one:",
        )
        context.show(
          `aws iam get-role --role-name ${urlService.id} --query Role.AssumeRolePolicyDocument`,
          JSON.stringify(urlService.resource.Properties.AssumeRolePolicyDocument),
        )
        const assume = (serviceAccount: string) =>
          evaluate([urlService.resource.Properties.AssumeRolePolicyDocument], {
            action: 'sts:AssumeRole',
            resource: `arn:aws:iam::${env.account}:role/${urlService.id}`,
            principalService: 'pods.eks.amazonaws.com',
            context: {
              'aws:RequestTag/eks-cluster-arn': clusterArn,
              'aws:RequestTag/kubernetes-namespace': 'services',
              'aws:RequestTag/kubernetes-service-account': serviceAccount,
            },
          })
        const asWorker = assume('worker')
        const asUrlService = assume('url-service')
        context.show('# sts:AssumeRole, session tagged services/worker', explain(asWorker))
        context.show('# sts:AssumeRole, session tagged services/url-service', explain(asUrlService))
        if (asWorker.decision === 'Allow' || asUrlService.decision !== 'Allow')
          throw new LessonFailure(
            'after',
            `trust policy: worker ${asWorker.decision}, url-service ${asUrlService.decision}`,
          )
        const denyAll: PolicyDocument = {
          Statement: [{ Sid: 'QuarantineWorker', Effect: 'Deny', Action: '*', Resource: '*' }],
        }
        const quarantined = evaluate([...permissions(synthesized.worker.resource), denyAll], {
          action: 'sqs:ReceiveMessage',
          resource: queueArn,
        })
        context.show(
          '# and an explicit Deny wins over every Allow: a quarantine policy on the worker, then its own ReceiveMessage',
          explain(quarantined),
        )
        if (quarantined.decision !== 'ExplicitDeny')
          throw new LessonFailure('after', 'an explicit deny did not win')
        say(
          "   With IRSA the same check is the OIDC trust condition on the token's sub\n" +
            '   (system:serviceaccount:services:worker); infra/test/irsa.test.ts asserts it.',
        )
      },
    }
  },
}
