// The default variant (Pod Identity, private endpoint, deletion protection
// on), synthesized once and shared by every test in this file.
import t from 'tap'
import { keyAdminActions } from '../src/encryption.js'
import {
  addon,
  expectedPolicies,
  getAttTarget,
  idsOf,
  type Json,
  kubernetesObjects,
  only,
  propsOf,
  render,
  synthesize,
  testCaBundle,
  wildcards,
} from './helpers.js'

const s = synthesize()
const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] })
const ref = (id: string) => ({ Ref: id })

const cluster = only(s, 'AWS::EKS::Cluster')
const secretsKey = only(s, 'AWS::KMS::Key', 'EncryptionEksSecretsKey')
const dataKey = only(s, 'AWS::KMS::Key', 'EncryptionDataKey')
const clusterRoleId = only(s, 'AWS::IAM::Role', 'ClusterRole').id
/** The one trust statement a Pod Identity role has: this cluster's `namespace/serviceAccount`. */
const podIdentityTrust = (namespace: string, serviceAccount: string) => ({
  Effect: 'Allow',
  Principal: { Service: 'pods.eks.amazonaws.com' },
  Action: ['sts:AssumeRole', 'sts:TagSession'],
  Condition: {
    StringEquals: {
      'aws:RequestTag/eks-cluster-arn': getAtt(cluster.id),
      'aws:RequestTag/kubernetes-namespace': namespace,
      'aws:RequestTag/kubernetes-service-account': serviceAccount,
    },
  },
})
const dlq = only(s, 'AWS::SQS::Queue', 'DataEventsDlq')
const queue = only(
  s,
  'AWS::SQS::Queue',
  idsOf(s, 'AWS::SQS::Queue', 'DataEvents').find((id) => !id.startsWith('DataEventsDlq')),
)
const appSecretId = only(
  s,
  'AWS::SecretsManager::SecretTargetAttachment',
  'DataAppUserSecretAttachment',
).id

t.test('EKS encrypts Kubernetes Secrets with the customer-managed key', async (t) => {
  t.same(cluster.props.EncryptionConfig, [
    { Provider: { KeyArn: getAtt(secretsKey.id) }, Resources: ['secrets'] },
  ])
  t.equal(secretsKey.props.EnableKeyRotation, true, 'automatic rotation on')
  t.equal(dataKey.props.EnableKeyRotation, true, 'the data key rotates too')
  t.equal(cluster.props.Version, '1.36')
})

t.test('the secrets key policy: admin through IAM, use by the cluster role only', async (t) => {
  const statements = (secretsKey.props.KeyPolicy as Json).Statement as Json[]
  const bySid = Object.fromEntries(statements.map((st) => [st.Sid as string, st]))
  t.same(Object.keys(bySid).sort(), [
    'EksClusterRoleUsesKey',
    'GrantsOnlyForEks',
    'KeyAdministrationThroughIam',
  ])
  const admin = bySid.KeyAdministrationThroughIam as Json
  t.same(admin.Action, keyAdminActions)
  for (const use of [
    'kms:Encrypt',
    'kms:Decrypt',
    'kms:ReEncrypt*',
    'kms:GenerateDataKey',
    'kms:*',
    'kms:CreateGrant',
  ]) {
    t.notOk((admin.Action as string[]).includes(use), `the account cannot ${use} through IAM`)
  }
  const use = bySid.EksClusterRoleUsesKey as Json
  t.same(use.Principal, { AWS: getAtt(clusterRoleId) })
  t.same(use.Action, ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey'])
  const grants = bySid.GrantsOnlyForEks as Json
  t.same(grants.Action, 'kms:CreateGrant')
  t.same(grants.Condition, {
    Bool: { 'kms:GrantIsForAWSResource': 'true' },
    StringEquals: { 'kms:ViaService': 'eks.eu-west-1.amazonaws.com' },
  })
  const actions = statements.flatMap((st) => [st.Action].flat() as string[])
  t.notOk(actions.includes('kms:*'), 'no kms:* anywhere in the key policy')
})

t.test('disabling or scheduling deletion of a key raises an alarm', async (t) => {
  const rule = only(s, 'AWS::Events::Rule')
  const topicId = only(s, 'AWS::SNS::Topic').id
  t.same(rule.props.EventPattern, {
    source: ['aws.kms'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['kms.amazonaws.com'],
      eventName: ['DisableKey', 'ScheduleKeyDeletion'],
      resources: { ARN: [getAtt(secretsKey.id), getAtt(dataKey.id)] },
    },
  })
  t.same(rule.props.Targets, [{ Arn: ref(topicId), Id: 'Target0' }])
  const alarm = only(s, 'AWS::CloudWatch::Alarm', 'EncryptionKeyStateAlarm')
  t.match(alarm.props, {
    Namespace: 'AWS/Events',
    MetricName: 'TriggeredRules',
    Dimensions: [{ Name: 'RuleName', Value: ref(rule.id) }],
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    AlarmActions: [ref(topicId)],
  })
})

t.test('a message in the dead-letter queue raises an alarm on the same topic', async (t) => {
  const topicId = only(s, 'AWS::SNS::Topic').id
  const dlq = only(s, 'AWS::SQS::Queue', 'DataEventsDlq')
  t.same(idsOf(s, 'AWS::CloudWatch::Alarm').length, 2, 'the key alarm and this one')
  const alarm = only(s, 'AWS::CloudWatch::Alarm', 'DataEventsDlqNotEmpty')
  t.match(alarm.props, {
    Namespace: 'AWS/SQS',
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Dimensions: [{ Name: 'QueueName', Value: getAtt(dlq.id, 'QueueName') }],
    Statistic: 'Maximum',
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    EvaluationPeriods: 1,
    TreatMissingData: 'notBreaching',
    AlarmActions: [ref(topicId)],
  })
  t.same(s.outputs.AlarmTopicArn?.Value, ref(topicId), 'the topic is an output')
})

t.test('private endpoint only by default; control-plane logs all on', async (t) => {
  t.match(cluster.props.ResourcesVpcConfig, {
    EndpointPrivateAccess: true,
    EndpointPublicAccess: false,
  })
  t.notOk((cluster.props.ResourcesVpcConfig as Json).PublicAccessCidrs)
  t.same(cluster.props.Logging, {
    ClusterLogging: {
      EnabledTypes: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map(
        (type) => ({
          Type: type,
        }),
      ),
    },
  })
})

t.test('VPC CNI enforces NetworkPolicy; the Pod Identity agent is installed', async (t) => {
  const cni = only(s, 'AWS::EKS::Addon', 'VpcCni')
  t.equal(cni.props.AddonName, 'vpc-cni')
  t.same(JSON.parse(cni.props.ConfigurationValues as string), { enableNetworkPolicy: 'true' })
  t.equal(cni.props.ResolveConflicts, 'OVERWRITE')
  const agents = idsOf(s, 'AWS::EKS::Addon').filter(
    (id) => s.resources[id]?.Properties?.AddonName === 'eks-pod-identity-agent',
  )
  t.equal(agents.length, 1)
})

t.test('nodes require IMDSv2 with hop limit 1 (pods cannot reach the node role)', async (t) => {
  const template = only(s, 'AWS::EC2::LaunchTemplate')
  const data = template.props.LaunchTemplateData as Json
  t.same(data.MetadataOptions, { HttpPutResponseHopLimit: 1, HttpTokens: 'required' })
  t.match(data.BlockDeviceMappings, [{ Ebs: { Encrypted: true } }])
  const group = only(s, 'AWS::EKS::Nodegroup')
  t.same(
    (group.props.LaunchTemplate as Json).Id,
    ref(template.id),
    'the node group uses that template',
  )
})

t.test('RDS: private, KMS-encrypted, TLS forced, deletion protection from config', async (t) => {
  const db = only(s, 'AWS::RDS::DBInstance')
  t.equal(db.props.PubliclyAccessible, false)
  t.equal(db.props.StorageEncrypted, true)
  t.same(db.props.KmsKeyId, getAtt(dataKey.id))
  t.equal(db.props.DeletionProtection, true)
  t.equal(s.resources[db.id] && (s.resources[db.id] as Json).DeletionPolicy, 'Snapshot')
  const params = only(s, 'AWS::RDS::DBParameterGroup')
  t.same(db.props.DBParameterGroupName, ref(params.id))
  t.same(params.props.Parameters, { 'rds.force_ssl': '1' })
  const subnets = only(s, 'AWS::RDS::DBSubnetGroup')
  t.same(
    subnets.props.SubnetIds,
    idsOf(s, 'AWS::EC2::Subnet', 'NetworkVpcdata').map(ref),
    'in the isolated data subnets',
  )
})

t.test(
  'database secrets: generated, KMS-encrypted, rotated; app secret has the rotation-template shape',
  async (t) => {
    const secrets = idsOf(s, 'AWS::SecretsManager::Secret').map((id) => propsOf(s, id))
    t.equal(secrets.length, 2)
    for (const secret of secrets) t.same(secret.KmsKeyId, getAtt(dataKey.id))
    const app = only(s, 'AWS::SecretsManager::Secret', 'DataAppUserSecret').props
    const generate = app.GenerateSecretString as Json
    t.match(JSON.parse(render(generate.SecretStringTemplate)), {
      username: 'zt_app',
      dbname: 'urls',
      masterarn: /^\{\{/,
    })
    t.equal(generate.GenerateStringKey, 'password')
    const attachment = only(
      s,
      'AWS::SecretsManager::SecretTargetAttachment',
      'DataAppUserSecretAttachment',
    )
    t.equal(
      attachment.props.TargetType,
      'AWS::RDS::DBInstance',
      'engine, host and port are filled from the instance',
    )
    const schedules = idsOf(s, 'AWS::SecretsManager::RotationSchedule').map((id) => propsOf(s, id))
    t.equal(schedules.length, 2, 'master and app secrets both rotate')
    for (const schedule of schedules)
      t.match(schedule.RotationRules, { ScheduleExpression: 'rate(30 days)' })
    const appSchedule = only(
      s,
      'AWS::SecretsManager::RotationSchedule',
      'DataAppUserSecretAttachment',
    )
    t.equal(
      appSchedule.props.RotateImmediatelyOnUpdate,
      false,
      'first rotation after the login is bootstrapped',
    )
    // url-service follows a new password, not a new user name (pg fixes the
    // user per pool), so the app login must rotate single-user.
    const mappings = Object.entries(
      (s.template.toJSON() as { Mappings: Record<string, Json> }).Mappings,
    )
    const appRotation = mappings.filter(([id]) => id.startsWith('DataAppUserRotationSARMapping'))
    t.equal(appRotation.length, 1)
    t.match(JSON.stringify(appRotation), /SecretsManagerRDSPostgreSQLRotationSingleUser/)
    t.notMatch(JSON.stringify(mappings), /RotationMultiUser/)
  },
)

t.test('SQS: both queues KMS-encrypted, redrive to the DLQ after 5 receives', async (t) => {
  for (const q of [queue, dlq]) t.same(q.props.KmsMasterKeyId, getAtt(dataKey.id))
  t.same(queue.props.RedrivePolicy, { deadLetterTargetArn: getAtt(dlq.id), maxReceiveCount: 5 })
  // The worker's defaultVisibilityTimeoutSeconds (services/url-service/src/worker/config.ts),
  // as the local queues are created.
  t.equal(queue.props.VisibilityTimeout, 60)
})

t.test('interface endpoints for every AWS API the pods and nodes use, plus S3', async (t) => {
  const endpoints = idsOf(s, 'AWS::EC2::VPCEndpoint').map((id) => propsOf(s, id))
  const name = (e: Json) => render(e.ServiceName)
  const iface = endpoints.filter((e) => e.VpcEndpointType === 'Interface')
  t.same(
    iface.map(name).sort(),
    ['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager', 'sqs', 'sts'].map(
      (svc) => `com.amazonaws.eu-west-1.${svc}`,
    ),
  )
  const endpointSubnets = idsOf(s, 'AWS::EC2::Subnet', 'NetworkVpcendpoints').map(ref)
  for (const e of iface) {
    t.equal(e.PrivateDnsEnabled, true)
    t.same(e.SubnetIds, endpointSubnets, `${name(e)} in the endpoint subnets`)
  }
  const gateways = endpoints.filter((e) => e.VpcEndpointType === 'Gateway')
  t.equal(gateways.length, 1)
  t.match(name(gateways[0] as Json), /\.s3$/)
})

t.test(
  'the CIDRs exported for NetworkPolicies are exactly the endpoint and data subnets',
  async (t) => {
    const cidrsOf = (prefix: string) =>
      idsOf(s, 'AWS::EC2::Subnet', prefix).map((id) => propsOf(s, id).CidrBlock)
    t.same(s.outputs.AwsEndpointCidrs?.Value, cidrsOf('NetworkVpcendpoints').join(','))
    t.same(s.outputs.DatabaseCidrs?.Value, cidrsOf('NetworkVpcdata').join(','))
    t.same(s.outputs.AwsEndpointCidrs?.Value, '10.40.96.0/27,10.40.96.32/27')
  },
)

const roleIds = {
  urlService: only(s, 'AWS::IAM::Role', 'UrlServiceIdentityRole').id,
  worker: only(s, 'AWS::IAM::Role', 'WorkerIdentityRole').id,
}
const serviceAccounts = { urlService: 'url-service', worker: 'worker' }

t.test(
  'every app role: exactly its actions on its resources, nothing attached besides',
  async (t) => {
    const expected = expectedPolicies({
      queue: queue.id,
      dataKey: dataKey.id,
      appSecret: appSecretId,
    })
    for (const [name, id] of Object.entries(roleIds) as [keyof typeof roleIds, string][]) {
      const props = propsOf(s, id)
      t.same(
        props.Policies,
        [
          {
            PolicyName: 'workload',
            PolicyDocument: { Version: '2012-10-17', Statement: expected[name] },
          },
        ],
        `${name}: exact inline policy`,
      )
      t.notOk(props.ManagedPolicyArns, `${name}: no managed policies`)
      const attached = idsOf(s, 'AWS::IAM::Policy').filter((pid) =>
        JSON.stringify(s.resources[pid]?.Properties?.Roles).includes(`"${id}"`),
      )
      t.same(attached, [], `${name}: no other policy attached`)
      t.same(wildcards((props.Policies as Json[])[0]?.PolicyDocument), [], `${name}: no wildcard`)
    }
  },
)

t.test('the wildcard check catches wildcards (negative control)', async (t) => {
  t.same(wildcards({ Statement: [{ Action: 'sqs:*', Resource: 'arn:aws:sqs:eu-west-1:1:q' }] }), [
    'Action: sqs:*',
  ])
  t.same(wildcards({ Statement: [{ Action: ['s3:GetObject'], Resource: ['*'] }] }), ['Resource: *'])
})

t.test(
  'Pod Identity: trust admits only services/<sa> of this cluster, with an association each',
  async (t) => {
    for (const [name, id] of Object.entries(roleIds) as [keyof typeof roleIds, string][]) {
      const trust = propsOf(s, id).AssumeRolePolicyDocument as Json
      t.same(
        trust.Statement,
        [podIdentityTrust('services', serviceAccounts[name])],
        `${name}: exact trust`,
      )
    }
    const associations = idsOf(s, 'AWS::EKS::PodIdentityAssociation').map(
      (id) => s.resources[id]?.Properties,
    )
    t.same(
      associations,
      (Object.keys(roleIds) as (keyof typeof roleIds)[]).map((name) => ({
        ClusterName: ref(cluster.id),
        Namespace: 'services',
        ServiceAccount: serviceAccounts[name],
        RoleArn: getAtt(roleIds[name]),
      })),
    )
    t.same(idsOf(s, 'AWS::IAM::OIDCProvider'), [], 'no OIDC provider without IRSA')
    t.same(idsOf(s, 'AWS::IAM::Role', 'MigrateIdentity'), [], 'no role of its own for migrations')
  },
)

t.test('SPIRE from the official hardened charts, CRDs first, with the trust domain', async (t) => {
  const crds = only(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartSpireCrds')
  const spire = only(
    s,
    'Custom::AWSCDK-EKS-HelmChart',
    idsOf(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartSpire').find((id) => id !== crds.id),
  )
  for (const chart of [crds, spire]) {
    t.equal(chart.props.Repository, 'https://spiffe.github.io/helm-charts-hardened/')
    t.equal(chart.props.Namespace, 'spire-mgmt')
  }
  t.match(crds.props, { Chart: 'spire-crds', Release: 'spire-crds', Version: '0.6.0' })
  t.match(spire.props, { Chart: 'spire', Release: 'spire', Version: '0.30.0' })
  const values = JSON.parse(render(spire.props.Values))
  t.same(values, {
    global: {
      spire: {
        trustDomain: 'zt.example.com',
        clusterName: `{{${cluster.id}}}`,
        persistence: { storageClass: 'gp3' },
      },
    },
  })
  t.ok(s.resources[spire.id]?.DependsOn?.includes(crds.id), 'CRDs are installed first')
})

t.test(
  "the SPIRE server's volume claim names a StorageClass that exists and the EBS CSI driver provisions",
  async (t) => {
    const crds = only(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartSpireCrds')
    const spire = only(
      s,
      'Custom::AWSCDK-EKS-HelmChart',
      idsOf(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartSpire').find((id) => id !== crds.id),
    )
    // spire 0.30.0 puts global.spire.persistence.storageClass into the
    // server's volumeClaimTemplate (persistence.type pvc is its default).
    const className = JSON.parse(render(spire.props.Values)).global?.spire?.persistence
      ?.storageClass
    t.type(className, 'string', 'the SPIRE release names a StorageClass')
    const classes = kubernetesObjects(s).filter(
      ({ object }) =>
        object.kind === 'StorageClass' && (object.metadata as Json).name === className,
    )
    t.equal(classes.length, 1, `StorageClass ${className} is applied by the stack`)
    const storageClass = classes[0]
    if (!storageClass) return
    t.match(storageClass.object, {
      apiVersion: 'storage.k8s.io/v1',
      provisioner: 'ebs.csi.aws.com',
      volumeBindingMode: 'WaitForFirstConsumer',
      parameters: { type: 'gp3', encrypted: 'true' },
      metadata: { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    })
    t.equal(
      (storageClass.object.parameters as Json).tagSpecification_1,
      `eks-cluster-name={{${cluster.id}}}`,
      'volumes carry the cluster name (found again after teardown)',
    )

    // ebs.csi.aws.com exists only if the add-on is installed.
    const driver = addon(s, 'aws-ebs-csi-driver')
    const associations = driver.props.PodIdentityAssociations as Json[]
    t.equal(associations.length, 1)
    t.equal(associations[0]?.ServiceAccount, 'ebs-csi-controller-sa')
    const roleId = getAttTarget(associations[0]?.RoleArn)
    const role = propsOf(s, roleId)
    t.same(
      (role.AssumeRolePolicyDocument as Json).Statement,
      [podIdentityTrust('kube-system', 'ebs-csi-controller-sa')],
      'only the controller of this cluster may assume the role',
    )
    t.same(
      (role.ManagedPolicyArns as Json[]).map(render),
      ['arn:{{AWS::Partition}}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy'],
      "AWS's documented policy for the driver, nothing else",
    )
    t.notOk(role.Policies, 'no inline policy besides')
    t.same(
      idsOf(s, 'AWS::IAM::Policy').filter((id) =>
        JSON.stringify(propsOf(s, id).Roles).includes(`"${roleId}"`),
      ),
      [],
      'no other policy attached',
    )
    t.notOk(
      idsOf(s, 'AWS::EKS::PodIdentityAssociation').some(
        (id) => propsOf(s, id).ServiceAccount === 'ebs-csi-controller-sa',
      ),
      'the add-on owns its association',
    )

    const addonDependsOn = s.resources[driver.id]?.DependsOn ?? []
    t.ok(
      addonDependsOn.includes(only(s, 'AWS::EKS::Nodegroup').id),
      'the add-on waits for nodes to run its controller on',
    )
    const spireDependsOn = s.resources[spire.id]?.DependsOn ?? []
    t.ok(spireDependsOn.includes(driver.id), 'SPIRE is installed after the EBS CSI driver')
    t.ok(
      spireDependsOn.includes(storageClass.resourceId),
      `SPIRE is installed after StorageClass ${className}`,
    )
  },
)

t.test("metrics-server serves the resource metrics the chart's HPAs scale on", async (t) => {
  const metrics = addon(s, 'metrics-server')
  t.notOk(metrics.props.PodIdentityAssociations, 'needs no AWS role')
  t.notOk(metrics.props.ServiceAccountRoleArn, 'needs no AWS role')
  t.ok(
    s.resources[metrics.id]?.DependsOn?.includes(only(s, 'AWS::EKS::Nodegroup').id),
    'created once there are nodes to run it',
  )
  const app = only(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartApp')
  t.ok(
    s.resources[app.id]?.DependsOn?.includes(metrics.id),
    'the app (and any HPA it has) is installed after metrics-server',
  )
})

t.test('the app chart is the local chart asset, its values wired from the stack', async (t) => {
  const app = only(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartApp')
  t.ok(app.props.ChartAssetURL, 'chart shipped as an S3 asset (synth needs no network)')
  t.match(app.props, { Release: 'zero-trust-eks', Namespace: 'zero-trust-eks' })
  t.notOk(app.props.Wait, 'no helm --wait: pods turn ready after the DB login bootstrap')
  const values = JSON.parse(render(app.props.Values))
  const db = only(s, 'AWS::RDS::DBInstance').id
  // Exactly these: the migrate init container runs with its pod's role.
  t.same(values.aws.roleArns, {
    urlService: `{{${roleIds.urlService}.Arn}}`,
    worker: `{{${roleIds.worker}.Arn}}`,
  })
  t.match(values, {
    trustDomain: 'zt.example.com',
    publicBaseUrl: 'https://sho.example.com',
    aws: {
      region: 'eu-west-1',
      identity: 'podIdentity',
      roleArns: {
        urlService: `{{${roleIds.urlService}.Arn}}`,
        worker: `{{${roleIds.worker}.Arn}}`,
      },
    },
    db: {
      secretArn: `{{${appSecretId}}}`,
      host: `{{${db}.Endpoint.Address}}`,
      port: 5432,
      name: 'urls',
      caBundle: testCaBundle,
    },
    events: { queueUrl: `{{${queue.id}}}` },
    spiffe: { className: 'spire-mgmt-spire' },
    network: {
      awsEndpointCidrs: ['10.40.96.0/27', '10.40.96.32/27'],
      databaseCidrs: ['10.40.96.64/27', '10.40.96.96/27'],
    },
  })
  // The gateway trusts X-Forwarded-For from the pod (node) subnets only; the
  // frontend from those and the public subnets where a load balancer sits.
  const gatewayProxies = (values.apiGateway as { trustedProxies: string[] }).trustedProxies
  const frontendProxies = (values.frontend as { trustedProxies: string[] }).trustedProxies
  t.equal(gatewayProxies.length, 2)
  for (const cidr of gatewayProxies) t.match(cidr, /^10\.40\.\d+\.0\/19$/)
  t.same(frontendProxies.slice(2), gatewayProxies)
  for (const cidr of frontendProxies.slice(0, 2)) t.match(cidr, /^10\.40\.\d+\.0\/24$/)
  const dependsOn = s.resources[app.id]?.DependsOn ?? []
  for (const id of [only(s, 'AWS::EKS::Addon', 'VpcCni').id, ...Object.values(roleIds)]) {
    t.ok(dependsOn.includes(id), `installed after ${id}`)
  }
})

t.test('outputs a user needs', async (t) => {
  t.match(s.outputs, {
    ClusterName: { Value: ref(cluster.id) },
    EventsQueueUrl: { Value: ref(queue.id) },
    DbSecretArn: { Value: ref(appSecretId) },
    UrlServiceRoleArn: { Value: getAtt(roleIds.urlService) },
    WorkerRoleArn: { Value: getAtt(roleIds.worker) },
  })
  t.notOk(s.outputs.MigrateRoleArn, 'migrations run in the url-service and worker pods')
  t.equal(
    render(s.outputs.KubeconfigCommand?.Value),
    `aws eks update-kubeconfig --region eu-west-1 --name {{${cluster.id}}}`,
  )
})

t.test(
  'the app login is created during deploy by a function that alone reads the master secret',
  async (t) => {
    const login = only(s, 'Custom::AppDatabaseLogin')
    const masterId = only(
      s,
      'AWS::SecretsManager::SecretTargetAttachment',
      'DataPostgresSecretAttachment',
    ).id
    t.match(login.props, {
      MasterSecretArn: ref(masterId),
      AppSecretArn: ref(appSecretId),
      AppUsername: 'zt_app',
    })
    const fn = only(s, 'AWS::Lambda::Function', 'DataAppLoginFunction')
    t.same(
      (fn.props.VpcConfig as Json).SubnetIds,
      idsOf(s, 'AWS::EC2::Subnet', 'NetworkVpcnodes').map(ref),
      'runs inside the VPC',
    )
    const fnRole = (fn.props.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0] as string
    const policy = idsOf(s, 'AWS::IAM::Policy').find((id) =>
      JSON.stringify(propsOf(s, id).Roles).includes(`"${fnRole}"`),
    ) as string
    t.same((propsOf(s, policy).PolicyDocument as Json).Statement, [
      {
        Action: 'secretsmanager:GetSecretValue',
        Effect: 'Allow',
        Resource: [ref(masterId), ref(appSecretId)],
      },
      {
        Action: 'kms:Decrypt',
        Effect: 'Allow',
        Resource: getAtt(dataKey.id),
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
      },
    ])
    const readers = Object.keys(s.resources).filter((id) => {
      const type = s.resources[id]?.Type
      return (
        (type === 'AWS::IAM::Policy' || type === 'AWS::IAM::Role') &&
        JSON.stringify(propsOf(s, id)).includes(`"Ref":"${masterId}"`)
      )
    })
    t.same(readers, [policy], 'no app role can read the master secret')
    const sg = only(s, 'AWS::EC2::SecurityGroup', 'DataAppLoginSecurityGroup')
    const egress = sg.props.SecurityGroupEgress as Json[]
    t.same(
      egress.map((rule) => [rule.CidrIp, rule.FromPort, rule.ToPort]),
      [
        ['10.40.96.0/27', 443, 443],
        ['10.40.96.32/27', 443, 443],
      ],
      'HTTPS only to the endpoint subnets',
    )
    const dbEgress = idsOf(s, 'AWS::EC2::SecurityGroupEgress').map((id) => propsOf(s, id))
    t.ok(
      dbEgress.some(
        (rule) =>
          JSON.stringify(rule.GroupId).includes(sg.id) &&
          JSON.stringify(rule.DestinationSecurityGroupId).includes('DataPostgresSecurityGroup'),
      ),
      'and to the database',
    )
    const ingress = idsOf(s, 'AWS::EC2::SecurityGroupIngress').map((id) => propsOf(s, id))
    t.ok(
      ingress.some((rule) => JSON.stringify(rule.SourceSecurityGroupId).includes(sg.id)),
      'the database admits the function',
    )
    const app = only(s, 'Custom::AWSCDK-EKS-HelmChart', 'ClusterchartApp')
    t.ok(
      s.resources[app.id]?.DependsOn?.includes(login.id),
      'the app is installed after the login exists',
    )
  },
)
