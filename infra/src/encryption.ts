import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions'
import * as events from 'aws-cdk-lib/aws-events'
import * as targets from 'aws-cdk-lib/aws-events-targets'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import * as sns from 'aws-cdk-lib/aws-sns'
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions'
import { Construct } from 'constructs'

/**
 * Administration only: the account (through IAM) may manage the key but not
 * use it, so no IAM policy anywhere in the account can decrypt Kubernetes
 * Secrets. Listed one by one on purpose: no `kms:*`, no Encrypt/Decrypt.
 */
export const keyAdminActions = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
]

/** What the EKS cluster role needs to envelope-encrypt Secrets (EKS user guide). */
export const eksKeyUseActions = ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey']

export interface EncryptionProps {
  /** The role EKS assumes; the only principal allowed to use the secrets key. */
  readonly clusterRole: iam.IRole
  readonly alarmEmail?: string | undefined
}

export class Encryption extends Construct {
  /** EKS envelope encryption of Kubernetes `secrets`. */
  readonly secretsKey: kms.Key
  /** RDS storage, the database secrets and the SQS queues. */
  readonly dataKey: kms.Key
  /** The stack's alarms: the keys' (here) and the dead-letter queue's (data.ts). */
  readonly alarmTopic: sns.Topic

  constructor(scope: Construct, id: string, props: EncryptionProps) {
    super(scope, id)
    const accountRoot = new iam.AccountRootPrincipal()

    this.secretsKey = new kms.Key(this, 'EksSecretsKey', {
      alias: `alias/${Stack.of(this).stackName}/eks-secrets`,
      description: 'EKS envelope encryption of Kubernetes Secrets',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'KeyAdministrationThroughIam',
            principals: [accountRoot],
            actions: keyAdminActions,
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'EksClusterRoleUsesKey',
            principals: [props.clusterRole],
            actions: eksKeyUseActions,
            resources: ['*'],
          }),
          // CreateCluster makes EKS create a grant in the caller's name; the
          // condition limits grants to ones an AWS service makes for a resource.
          new iam.PolicyStatement({
            sid: 'GrantsOnlyForEks',
            principals: [accountRoot, props.clusterRole],
            actions: ['kms:CreateGrant'],
            resources: ['*'],
            conditions: {
              Bool: { 'kms:GrantIsForAWSResource': 'true' },
              StringEquals: { 'kms:ViaService': `eks.${Stack.of(this).region}.amazonaws.com` },
            },
          }),
        ],
      }),
    })

    // The data key keeps the default account delegation so the services that
    // use it (RDS, Secrets Manager rotation, SQS) work through IAM; the app
    // roles' IAM policies pin it to one service and one resource each.
    this.dataKey = new kms.Key(this, 'DataKey', {
      alias: `alias/${Stack.of(this).stackName}/data`,
      description: 'RDS storage, database secrets and SQS queues',
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
    })

    // The id is older than the DLQ's alarm; a new one would replace the
    // topic, and with it every confirmed subscription.
    this.alarmTopic = new sns.Topic(this, 'KeyAlarmTopic', {
      displayName: 'Zero Trust on EKS alarms',
      enforceSSL: true,
    })
    if (props.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail))
    }

    // KMS publishes no metric for key state: the signal is the management
    // API call, delivered to EventBridge by CloudTrail (a trail must exist).
    const keyStateChange = new events.Rule(this, 'KeyDisabledOrDeletionScheduled', {
      description: 'DisableKey or ScheduleKeyDeletion on the EKS secrets or data key',
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: ['DisableKey', 'ScheduleKeyDeletion'],
          resources: { ARN: [this.secretsKey.keyArn, this.dataKey.keyArn] },
        },
      },
    })
    keyStateChange.addTarget(new targets.SnsTopic(this.alarmTopic))

    // The same signal as a CloudWatch alarm, so it shows in alarm dashboards
    // and can feed composite alarms; it stays in ALARM for an hour.
    const alarm = new cloudwatch.Alarm(this, 'KeyStateAlarm', {
      alarmDescription:
        'A KMS key protecting Kubernetes Secrets or application data was disabled or scheduled for deletion',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'TriggeredRules',
        dimensionsMap: { RuleName: keyStateChange.ruleName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 12,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    })
    alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic))
  }
}
