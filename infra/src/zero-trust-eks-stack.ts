import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KubectlV36Layer } from '@aws-cdk/lambda-layer-kubectl-v36'
import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as eks from 'aws-cdk-lib/aws-eks-v2'
import * as iam from 'aws-cdk-lib/aws-iam'
import { Asset } from 'aws-cdk-lib/aws-s3-assets'
import type { Construct } from 'constructs'
import { appChartValues } from './app-chart-values.js'
import type { StackConfig } from './config.js'
import { Data, databaseName, databasePort } from './data.js'
import { Encryption } from './encryption.js'
import { Network, subnetGroups } from './network.js'
import { BlockStorage, storageClassName } from './storage.js'
import { WorkloadRole, type WorkloadTrust, workloadTrust } from './workload-identity.js'

/** The chart this repository ships; a directory asset, so synth needs no network. */
export const appChartDir = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../charts/zero-trust-eks',
)

/** SPIRE from spiffe/helm-charts-hardened, pinned (CRDs first, then the stack). */
export const spire = {
  repository: 'https://spiffe.github.io/helm-charts-hardened/',
  namespace: 'spire-mgmt',
  crds: { release: 'spire-crds', chart: 'spire-crds', version: '0.6.0' },
  stack: { release: 'spire', chart: 'spire', version: '0.30.0' },
} as const
/** The hardened chart's controller manager only watches ClusterSPIFFEIDs of class <namespace>-<release>. */
export const spireClassName = `${spire.namespace}-${spire.stack.release}`

export const kubernetesVersion = eks.KubernetesVersion.V1_36

export interface ZeroTrustEksStackProps extends StackProps {
  readonly config: StackConfig
}

export class ZeroTrustEksStack extends Stack {
  constructor(scope: Construct, id: string, props: ZeroTrustEksStackProps) {
    super(scope, id, props)
    const { config } = props

    const network = new Network(this, 'Network', { natGateways: config.natGateways })
    const { vpc } = network

    const clusterRole = new iam.Role(this, 'ClusterRole', {
      assumedBy: new iam.ServicePrincipal('eks.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEKSClusterPolicy')],
    })
    const encryption = new Encryption(this, 'Encryption', {
      clusterRole,
      alarmEmail: config.alarmEmail,
    })

    const cluster = new eks.Cluster(this, 'Cluster', {
      version: kubernetesVersion,
      vpc,
      vpcSubnets: [{ subnetGroupName: subnetGroups.nodes }],
      role: clusterRole,
      secretsEncryptionKey: encryption.secretsKey,
      endpointAccess:
        config.publicEndpointCidrs.length > 0
          ? eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...config.publicEndpointCidrs)
          : eks.EndpointAccess.PRIVATE,
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      kubectlProviderOptions: { kubectlLayer: new KubectlV36Layer(this, 'KubectlLayer') },
    })
    Validations.of(cluster).acknowledge({
      id: 'CloudFormation-Validate::W9009',
      reason:
        'EKS still takes EncryptionConfig Resources ["secrets"] to turn on KMS envelope encryption',
    })
    if (config.adminPrincipalArn) {
      cluster.grantAccess('ClusterAdmin', config.adminPrincipalArn, [
        eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', {
          accessScopeType: eks.AccessScopeType.CLUSTER,
        }),
      ])
    }

    // NetworkPolicy enforcement by the VPC CNI's network policy agent.
    const vpcCni = new eks.Addon(this, 'VpcCni', {
      cluster,
      addonName: 'vpc-cni',
      configurationValues: { enableNetworkPolicy: 'true' },
    })
    // EKS bootstraps a self-managed vpc-cni; the managed add-on takes it over.
    ;(vpcCni.node.defaultChild as eks.CfnAddon).resolveConflicts = 'OVERWRITE'
    // The getter creates the eks-pod-identity-agent add-on.
    const podIdentityAgent = cluster.eksPodIdentityAgent

    // IMDSv2 only, hop limit 1: a pod (one hop further) cannot reach the node
    // role's credentials, so it has only what its own role grants.
    const launchTemplate = new ec2.LaunchTemplate(this, 'NodeLaunchTemplate', {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(50, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    })
    const nodes = cluster.addNodegroupCapacity('Nodes', {
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      instanceTypes: [new ec2.InstanceType(config.nodeInstanceType)],
      minSize: 2,
      desiredSize: 2,
      maxSize: 4,
      subnets: { subnetGroupName: subnetGroups.nodes },
      launchTemplateSpec: {
        id: launchTemplate.launchTemplateId as string,
        version: launchTemplate.latestVersionNumber,
      },
    })
    nodes.node.addDependency(vpcCni)

    // The chart's HorizontalPodAutoscalers (<workload>.autoscaling.enabled)
    // scale on CPU from the resource metrics API (metrics.k8s.io), which
    // metrics-server serves; EKS installs no provider of it. No AWS role.
    const metricsServer = new eks.Addon(this, 'MetricsServer', {
      cluster,
      addonName: 'metrics-server',
    })
    metricsServer.node.addDependency(nodes)

    const data = new Data(this, 'Data', {
      vpc,
      endpointCidrs: network.endpointCidrs,
      key: encryption.dataKey,
      instanceType: config.dbInstanceType,
      deletionProtection: config.deletionProtection,
      alarmTopic: encryption.alarmTopic,
    })
    // Pods use their node's security groups (VPC CNI without SG-for-pods),
    // and managed nodes carry the cluster security group.
    data.database.connections.allowDefaultPortFrom(
      cluster.clusterSecurityGroup,
      'EKS nodes and pods',
    )

    const trust = workloadTrust(this, config.identityMode, cluster)
    const roles = this.workloadRoles(trust, data, encryption)

    // The SPIRE server keeps its datastore on a PersistentVolumeClaim.
    const storage = new BlockStorage(this, 'BlockStorage', { cluster, trust })
    // The driver's pods run on the nodes; the controller gets its
    // credentials from the Pod Identity agent.
    storage.addon.node.addDependency(nodes)
    if (podIdentityAgent) storage.addon.node.addDependency(podIdentityAgent)

    const spireCrds = cluster.addHelmChart('SpireCrds', {
      repository: spire.repository,
      chart: spire.crds.chart,
      release: spire.crds.release,
      version: spire.crds.version,
      namespace: spire.namespace,
      createNamespace: true,
      wait: true,
    })
    const spireChart = cluster.addHelmChart('Spire', {
      repository: spire.repository,
      chart: spire.stack.chart,
      release: spire.stack.release,
      version: spire.stack.version,
      namespace: spire.namespace,
      createNamespace: true,
      wait: true,
      timeout: Duration.minutes(15),
      values: {
        global: {
          spire: {
            trustDomain: config.trustDomain,
            clusterName: cluster.clusterName,
            // The server's volumeClaimTemplate; named, not left to the default.
            persistence: { storageClass: storageClassName },
          },
        },
      },
    })
    // Without the class and its provisioner the server's PVC stays Pending,
    // Helm times out and the stack rolls back.
    spireChart.node.addDependency(spireCrds, nodes, storage.addon, storage.storageClass)

    const appChart = cluster.addHelmChart('App', {
      chartAsset: new Asset(this, 'AppChartAsset', { path: appChartDir }),
      release: 'zero-trust-eks',
      namespace: 'zero-trust-eks',
      createNamespace: true,
      // No --wait: a slow image pull or a bad digest would otherwise time
      // out Helm and roll back the whole stack (cluster and database too);
      // rollout is checked with kubectl (docs/deploy.md).
      wait: false,
      values: appChartValues({
        region: this.region,
        identityMode: config.identityMode,
        trustDomain: config.trustDomain,
        spireClassName,
        publicBaseUrl: config.publicBaseUrl,
        images: config.images,
        roleArns: {
          urlService: roles.urlService.roleArn,
          worker: roles.worker.roleArn,
        },
        db: {
          secretArn: data.appSecret.secretArn,
          host: data.database.dbInstanceEndpointAddress,
          port: databasePort,
          name: databaseName,
          caBundle: config.dbCaBundle,
        },
        queueUrl: data.queue.queueUrl,
        databaseCidrs: network.databaseCidrs,
        awsEndpointCidrs: network.endpointCidrs,
        podCidrs: network.podCidrs,
        publicCidrs: network.publicCidrs,
      }),
    })
    // Policies must be enforced, identities issuable and credentials
    // obtainable before the first app pod starts, and CPU metrics served
    // before an HPA first asks for them.
    appChart.node.addDependency(
      spireChart,
      vpcCni,
      metricsServer,
      data.appLogin.resource,
      ...Object.values(roles),
    )
    if (podIdentityAgent) appChart.node.addDependency(podIdentityAgent)

    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description })
    out('ClusterName', cluster.clusterName, 'EKS cluster name')
    out(
      'KubeconfigCommand',
      `aws eks update-kubeconfig --region ${this.region} --name ${cluster.clusterName}`,
      'Configure kubectl (needs network access to the endpoint and an access entry)',
    )
    out('EksSecretsKeyArn', encryption.secretsKey.keyArn, 'KMS key encrypting Kubernetes Secrets')
    out(
      'AlarmTopicArn',
      encryption.alarmTopic.topicArn,
      "SNS topic for the stack's alarms (KMS keys, events dead-letter queue)",
    )
    out('EventsQueueUrl', data.queue.queueUrl, 'SQS events queue (EVENTS_QUEUE_URL)')
    out('EventsDeadLetterQueueUrl', data.deadLetterQueue.queueUrl, 'SQS dead-letter queue')
    out('DbSecretArn', data.appSecret.secretArn, 'Application DB secret (DB_SECRET_ARN)')
    out(
      'DbMasterSecretArn',
      data.database.secret?.secretArn ?? '',
      'RDS master secret (bootstrap only)',
    )
    out('DbHost', data.database.dbInstanceEndpointAddress, 'RDS endpoint (DB_HOST)')
    out('UrlServiceRoleArn', roles.urlService.roleArn, 'IAM role of services/url-service')
    out('WorkerRoleArn', roles.worker.roleArn, 'IAM role of services/worker')
    out('VpcCidr', vpc.vpcCidrBlock, 'VPC CIDR')
    out(
      'AwsEndpointCidrs',
      network.endpointCidrs.join(','),
      'NetworkPolicy TCP 443 egress (VPC endpoint subnets)',
    )
    out(
      'DatabaseCidrs',
      network.databaseCidrs.join(','),
      'NetworkPolicy TCP 5432 egress (database subnets)',
    )
  }

  /** Least privilege per workload: named actions on named resources, KMS only via the owning service. */
  private workloadRoles(trust: WorkloadTrust, data: Data, encryption: Encryption) {
    const secretArn = data.appSecret.secretArn
    const queueArn = data.queue.queueArn
    const keyArn = encryption.dataKey.keyArn
    // Fresh statements per role: a statement belongs to one policy document.
    const readSecret = () => [
      new iam.PolicyStatement({
        sid: 'ReadDbSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretArn],
      }),
      new iam.PolicyStatement({
        sid: 'DecryptDbSecret',
        actions: ['kms:Decrypt'],
        resources: [keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com`,
            'kms:EncryptionContext:SecretARN': secretArn,
          },
        },
      }),
    ]
    const viaQueue = {
      StringEquals: {
        'kms:ViaService': `sqs.${this.region}.amazonaws.com`,
        'kms:EncryptionContext:aws:sqs:arn': queueArn,
      },
    }
    const role = (id: string, serviceAccount: string, statements: iam.PolicyStatement[]) =>
      new WorkloadRole(this, id, {
        trust,
        serviceAccount,
        statements,
      }).role

    return {
      urlService: role('UrlServiceIdentity', 'url-service', [
        ...readSecret(),
        new iam.PolicyStatement({
          sid: 'SendEvents',
          actions: ['sqs:SendMessage'],
          resources: [queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'EncryptEvents',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [keyArn],
          conditions: viaQueue,
        }),
      ]),
      worker: role('WorkerIdentity', 'worker', [
        ...readSecret(),
        new iam.PolicyStatement({
          sid: 'ConsumeEvents',
          actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
          resources: [queueArn],
        }),
        new iam.PolicyStatement({
          sid: 'DecryptEvents',
          actions: ['kms:Decrypt'],
          resources: [keyArn],
          conditions: viaQueue,
        }),
      ]),
    }
  }
}
