// The IRSA variant, also with a CIDR-restricted public endpoint and deletion
// protection off: synthesized once and shared by every test in this file.
import t from 'tap'
import {
  addon,
  expectedPolicies,
  getAttTarget,
  idsOf,
  type Json,
  only,
  propsOf,
  render,
  synthesize,
  wildcards,
} from './helpers.js'

const s = synthesize({
  identityMode: 'irsa',
  publicEndpointCidrs: ['203.0.113.0/24'],
  deletionProtection: false,
})
const ref = (id: string) => ({ Ref: id })

const provider = only(s, 'AWS::IAM::OIDCProvider')
const cluster = only(s, 'AWS::EKS::Cluster')
const roleIds = {
  urlService: only(s, 'AWS::IAM::Role', 'UrlServiceIdentityRole').id,
  worker: only(s, 'AWS::IAM::Role', 'WorkerIdentityRole').id,
}
const serviceAccounts = { urlService: 'url-service', worker: 'worker' }

t.test('the OIDC provider is the cluster issuer, audience sts.amazonaws.com', async (t) => {
  t.same(provider.props, {
    ClientIdList: ['sts.amazonaws.com'],
    Url: { 'Fn::GetAtt': [cluster.id, 'OpenIdConnectIssuerUrl'] },
  })
})

t.test(
  'IRSA trust: web identity from that provider, StringEquals on the exact sub and aud',
  async (t) => {
    // The issuer host/path, derived from the provider ARN at deploy time.
    const issuer = `{{Select 1 of {{Split :oidc-provider/ {{${provider.id}}}}}}}`
    for (const [name, id] of Object.entries(roleIds) as [keyof typeof roleIds, string][]) {
      const trust = propsOf(s, id).AssumeRolePolicyDocument as Json
      const [statement = {}, ...rest] = trust.Statement as Json[]
      t.same(rest, [], `${name}: one trust statement`)
      t.same(statement.Principal, { Federated: ref(provider.id) })
      t.equal(statement.Action, 'sts:AssumeRoleWithWebIdentity')
      const conditions = (statement.Condition as Json).StringEquals as Json
      const claimsId = (conditions['Fn::GetAtt'] as string[])[0] as string
      t.equal(s.resources[claimsId]?.Type, 'Custom::AWSCDKCfnJson')
      const claims = JSON.parse(render(propsOf(s, claimsId).Value))
      t.same(
        claims,
        {
          [`${issuer}:sub`]: `system:serviceaccount:services:${serviceAccounts[name]}`,
          [`${issuer}:aud`]: 'sts.amazonaws.com',
        },
        `${name}: exact claims`,
      )
    }
    t.same(idsOf(s, 'AWS::EKS::PodIdentityAssociation'), [], 'no Pod Identity associations')
  },
)

t.test('the permissions do not depend on the identity mode', async (t) => {
  const expected = expectedPolicies({
    queue: idsOf(s, 'AWS::SQS::Queue', 'DataEvents').find(
      (id) => !id.startsWith('DataEventsDlq'),
    ) as string,
    dataKey: only(s, 'AWS::KMS::Key', 'EncryptionDataKey').id,
    appSecret: only(s, 'AWS::SecretsManager::SecretTargetAttachment', 'DataAppUserSecretAttachment')
      .id,
  })
  for (const [name, id] of Object.entries(roleIds) as [keyof typeof roleIds, string][]) {
    const policies = propsOf(s, id).Policies as Json[]
    t.same(policies, [
      {
        PolicyName: 'workload',
        PolicyDocument: { Version: '2012-10-17', Statement: expected[name] },
      },
    ])
    t.same(wildcards(policies[0]?.PolicyDocument), [])
  }
})

t.test('public endpoint only from the configured CIDR; private stays on', async (t) => {
  t.match(cluster.props.ResourcesVpcConfig, {
    EndpointPrivateAccess: true,
    EndpointPublicAccess: true,
    PublicAccessCidrs: ['203.0.113.0/24'],
  })
})

t.test(
  'deletion protection off when configured (and the instance is then destroyed)',
  async (t) => {
    const db = only(s, 'AWS::RDS::DBInstance')
    t.equal(db.props.DeletionProtection, false)
    t.equal((s.resources[db.id] as Json).DeletionPolicy, 'Delete')
  },
)

t.test('the app chart is told to use IRSA with the role ARNs', async (t) => {
  const values = JSON.parse(
    render(only(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartApp').props.Values),
  )
  t.same(values.aws, {
    region: 'eu-west-1',
    identity: 'irsa',
    roleArns: {
      urlService: `{{${roleIds.urlService}.Arn}}`,
      worker: `{{${roleIds.worker}.Arn}}`,
    },
  })
})

t.test(
  'the EBS CSI add-on gets its role through IRSA, trusted only by its controller',
  async (t) => {
    const driver = addon(s, 'aws-ebs-csi-driver')
    t.notOk(driver.props.PodIdentityAssociations, 'no Pod Identity association in IRSA mode')
    const roleId = getAttTarget(driver.props.ServiceAccountRoleArn)
    const trust = propsOf(s, roleId).AssumeRolePolicyDocument as Json
    const [statement = {}, ...rest] = trust.Statement as Json[]
    t.same(rest, [], 'one trust statement')
    t.same(statement.Principal, { Federated: ref(provider.id) })
    t.equal(statement.Action, 'sts:AssumeRoleWithWebIdentity')
    const claimsId = getAttTarget((statement.Condition as Json).StringEquals)
    const issuer = `{{Select 1 of {{Split :oidc-provider/ {{${provider.id}}}}}}}`
    t.same(JSON.parse(render(propsOf(s, claimsId).Value)), {
      [`${issuer}:sub`]: 'system:serviceaccount:kube-system:ebs-csi-controller-sa',
      [`${issuer}:aud`]: 'sts.amazonaws.com',
    })
  },
)
