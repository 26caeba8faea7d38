/** The IAM evaluator lesson 3 relies on, against the documented evaluation rules. */
import t from 'tap'
import {
  evaluate,
  type PolicyDocument,
  resolveIntrinsics,
  wildcardMatch,
} from '../src/lessons/iam.js'

const queue = 'arn:aws:sqs:eu-west-1:123456789012:events'
const allowSend: PolicyDocument = {
  Statement: [{ Sid: 'Send', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queue }],
}

t.test('wildcards: * any run, ? one character, actions case-insensitive', async (t) => {
  t.ok(wildcardMatch('sqs:*', 'sqs:SendMessage'))
  t.ok(wildcardMatch('sqs:send*', 'SQS:SendMessage', true))
  t.notOk(wildcardMatch('sqs:send*', 'SQS:SendMessage'))
  t.ok(wildcardMatch('arn:aws:sqs:*:123456789012:ev?nts', queue))
  t.notOk(wildcardMatch('arn:aws:sqs:*:123456789012:ev?nts', `${queue}-dlq`))
  t.ok(wildcardMatch('a.b(c)', 'a.b(c)'), 'regex characters are literal')
  t.notOk(wildcardMatch('a.b', 'axb'))
})

t.test('implicit deny, allow, and explicit deny wins', async (t) => {
  const send = { action: 'sqs:SendMessage', resource: queue }
  t.equal(evaluate([], send).decision, 'ImplicitDeny')
  t.equal(evaluate([allowSend], send).decision, 'Allow')
  t.equal(evaluate([allowSend], { ...send, action: 'sqs:ReceiveMessage' }).decision, 'ImplicitDeny')
  t.equal(evaluate([allowSend], { ...send, resource: `${queue}-dlq` }).decision, 'ImplicitDeny')
  const deny: PolicyDocument = { Statement: [{ Effect: 'Deny', Action: 'sqs:*', Resource: '*' }] }
  t.equal(evaluate([allowSend, deny], send).decision, 'ExplicitDeny')
  t.equal(evaluate([deny, allowSend], send).decision, 'ExplicitDeny', 'order does not matter')
})

t.test('NotAction and NotResource', async (t) => {
  const policy: PolicyDocument = {
    Statement: [
      { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' },
      { Effect: 'Deny', Action: '*', NotResource: queue },
    ],
  }
  t.equal(evaluate([policy], { action: 'sqs:SendMessage', resource: queue }).decision, 'Allow')
  t.equal(evaluate([policy], { action: 'iam:PassRole', resource: queue }).decision, 'ImplicitDeny')
  t.equal(
    evaluate([policy], { action: 'sqs:SendMessage', resource: `${queue}-dlq` }).decision,
    'ExplicitDeny',
  )
})

t.test('conditions: StringEquals, StringLike, a missing key does not match', async (t) => {
  const trust: PolicyDocument = {
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: {
          StringEquals: { 'aws:RequestTag/kubernetes-service-account': 'url-service' },
          StringLike: { 'aws:RequestTag/kubernetes-namespace': 'serv*' },
        },
      },
    ],
  }
  const assume = (context: Record<string, string>, principalService = 'pods.eks.amazonaws.com') =>
    evaluate([trust], { action: 'sts:AssumeRole', resource: 'role', context, principalService })
      .decision
  const tags = {
    'aws:RequestTag/kubernetes-service-account': 'url-service',
    'aws:RequestTag/kubernetes-namespace': 'services',
  }
  t.equal(assume(tags), 'Allow')
  t.equal(assume({ ...tags, 'AWS:REQUESTTAG/kubernetes-service-account': 'url-service' }), 'Allow')
  t.equal(
    assume({ ...tags, 'aws:RequestTag/kubernetes-service-account': 'worker' }),
    'ImplicitDeny',
  )
  t.equal(
    assume({ 'aws:RequestTag/kubernetes-namespace': 'services' }),
    'ImplicitDeny',
    'missing key',
  )
  t.equal(assume(tags, 'ec2.amazonaws.com'), 'ImplicitDeny', 'another principal')
  t.throws(
    () =>
      evaluate(
        [
          {
            Statement: [
              {
                Effect: 'Allow',
                Action: '*',
                Resource: '*',
                Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
              },
            ],
          },
        ],
        {
          action: 'a:b',
          resource: 'c',
          context: { 'aws:SourceIp': '10.0.0.1' },
        },
      ),
    /not modelled/,
  )
})

t.test('CloudFormation intrinsics resolve to ARNs named after logical IDs', async (t) => {
  const resources = { Q: { Type: 'AWS::SQS::Queue' }, K: { Type: 'AWS::KMS::Key' } }
  const env = { account: '123456789012', region: 'eu-west-1' }
  t.equal(
    resolveIntrinsics({ 'Fn::GetAtt': ['Q', 'Arn'] }, resources, env),
    'arn:aws:sqs:eu-west-1:123456789012:Q',
  )
  t.same(
    resolveIntrinsics(
      {
        Resource: [
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':kms:*:*:key/*']] },
          { 'Fn::GetAtt': ['K', 'Arn'] },
        ],
      },
      resources,
      env,
    ),
    { Resource: ['arn:aws:kms:*:*:key/*', 'arn:aws:kms:eu-west-1:123456789012:key/K'] },
  )
})
