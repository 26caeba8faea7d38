import { Duration, RemovalPolicy } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import type * as kms from 'aws-cdk-lib/aws-kms'
import * as rds from 'aws-cdk-lib/aws-rds'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import type * as sns from 'aws-cdk-lib/aws-sns'
import * as sqs from 'aws-cdk-lib/aws-sqs'
import { Construct } from 'constructs'
import { AppLogin } from './db-login.js'
import { subnetGroups } from './network.js'

export const databaseName = 'urls'
export const databasePort = 5432
/** The least-privilege application login (owner of `urls`, not a superuser). */
export const appUsername = 'zt_app'
export const rotationInterval = Duration.days(30)

export interface DataProps {
  readonly vpc: ec2.IVpc
  /** Interface endpoint subnets (Secrets Manager), for the login bootstrap's egress. */
  readonly endpointCidrs: readonly string[]
  readonly key: kms.IKey
  readonly instanceType: string
  readonly deletionProtection: boolean
  /** Where the dead-letter queue's alarm goes (the stack's alarm topic). */
  readonly alarmTopic: sns.ITopic
}

/** PostgreSQL (RDS) with its two secrets, and the events queue with its DLQ. */
export class Data extends Construct {
  readonly database: rds.DatabaseInstance
  /** Rotation-template secret {engine,host,username,password,dbname,port} of the app login. */
  readonly appSecret: secretsmanager.ISecret
  /** Creates the app login in the database during deploy. */
  readonly appLogin: AppLogin
  readonly queue: sqs.Queue
  readonly deadLetterQueue: sqs.Queue

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id)
    const engine = rds.DatabaseInstanceEngine.postgres({
      version: rds.PostgresEngineVersion.VER_17,
    })

    this.database = new rds.DatabaseInstance(this, 'Postgres', {
      engine,
      instanceType: new ec2.InstanceType(props.instanceType),
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: subnetGroups.data },
      port: databasePort,
      databaseName,
      publiclyAccessible: false,
      storageEncrypted: true,
      storageEncryptionKey: props.key,
      credentials: rds.Credentials.fromGeneratedSecret('zt_admin', { encryptionKey: props.key }),
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', {
        engine,
        description: 'TLS only',
        parameters: { 'rds.force_ssl': '1' },
      }),
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      allocatedStorage: 20,
      maxAllocatedStorage: 100,
      backupRetention: Duration.days(7),
      cloudwatchLogsExports: ['postgresql'],
      autoMinorVersionUpgrade: true,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.deletionProtection ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
    })
    this.database.addRotationSingleUser({ automaticallyAfter: rotationInterval })

    const appSecret = new rds.DatabaseSecret(this, 'AppUserSecret', {
      username: appUsername,
      dbname: databaseName,
      encryptionKey: props.key,
      masterSecret: this.database.secret,
    })
    // attach() fills in engine, host and port from the instance.
    this.appSecret = appSecret.attach(this.database)
    this.appLogin = new AppLogin(this, 'AppLogin', {
      vpc: props.vpc,
      endpointCidrs: props.endpointCidrs,
      database: this.database,
      masterSecret: this.database.secret as secretsmanager.ISecret,
      appSecret: this.appSecret,
      key: props.key,
      username: appUsername,
    })
    // Single-user rotation: the login changes its own password. url-service and
    // the worker build each new connection from the current secret and, on
    // 28P01, refresh it and retry once; open connections stay valid. With
    // alternating users the user name would change under a pool that fixes it.
    // The first rotation waits for the schedule: the login is created above,
    // and a rotation racing the bootstrap would fail.
    new secretsmanager.SecretRotation(this, 'AppUserRotation', {
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: this.appSecret,
      target: this.database,
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: subnetGroups.data },
      automaticallyAfter: rotationInterval,
      rotateImmediatelyOnUpdate: false,
    })

    this.deadLetterQueue = new sqs.Queue(this, 'EventsDlq', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
    })
    this.queue = new sqs.Queue(this, 'Events', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      // The worker's default and why: defaultVisibilityTimeoutSeconds in
      // services/url-service/src/worker/config.ts.
      visibilityTimeout: Duration.seconds(60),
      receiveMessageWaitTime: Duration.seconds(20),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
      enforceSSL: true,
    })

    // A message reaches the DLQ outside any process (the redrive policy), so
    // no service metric can see it, and each one is clicks not counted until
    // an operator redrives it (docs/events.md): one is enough to alarm on.
    const dlqAlarm = new cloudwatch.Alarm(this, 'EventsDlqNotEmpty', {
      alarmDescription:
        'Events the worker failed on five times are in the dead-letter queue: their clicks are not counted until they are redriven',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    })
    dlqAlarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic))
  }
}
