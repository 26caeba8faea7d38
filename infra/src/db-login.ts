import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CustomResource, DockerImage, Duration, Stack } from 'aws-cdk-lib'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as iam from 'aws-cdk-lib/aws-iam'
import type * as kms from 'aws-cdk-lib/aws-kms'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import type * as rds from 'aws-cdk-lib/aws-rds'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import * as cr from 'aws-cdk-lib/custom-resources'
import { Construct } from 'constructs'
import { buildSync } from 'esbuild'
import { subnetGroups } from './network.js'

const here = dirname(fileURLToPath(import.meta.url))
const sourceDir = join(here, 'db-bootstrap')

export interface AppLoginProps {
  readonly vpc: ec2.IVpc
  /** Where Secrets Manager answers (the interface endpoint subnets): its only HTTPS egress. */
  readonly endpointCidrs: readonly string[]
  readonly database: rds.DatabaseInstance
  readonly masterSecret: secretsmanager.ISecret
  readonly appSecret: secretsmanager.ISecret
  /** The key both secrets are encrypted with. */
  readonly key: kms.IKey
  readonly username: string
}

/**
 * Creates the application login in RDS during deploy (src/db-bootstrap), so
 * no human handles the master password and the app secret's first password
 * works before the first pod starts. Runs in the node subnets (the database
 * admits it by security group) and is the only principal that reads the
 * master secret.
 */
export class AppLogin extends Construct {
  readonly resource: CustomResource

  constructor(scope: Construct, id: string, props: AppLoginProps) {
    super(scope, id)
    // Egress only to the database (added by allowDefaultPortFrom below) and
    // to the VPC endpoints: this function holds the master password.
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Application login bootstrap',
      allowAllOutbound: false,
    })
    for (const cidr of props.endpointCidrs) {
      securityGroup.addEgressRule(
        ec2.Peer.ipv4(cidr),
        ec2.Port.tcp(443),
        'Secrets Manager endpoint',
      )
    }
    const fn = new lambda.Function(this, 'Function', {
      code: lambda.Code.fromAsset(sourceDir, {
        // Bundled in-process with esbuild (pg included, the runtime's AWS SDK
        // left out): no Docker, no network, hashed by the source directory.
        bundling: {
          image: DockerImage.fromRegistry('unused-local-bundling'),
          local: {
            tryBundle(outputDir) {
              buildSync({
                entryPoints: [join(sourceDir, 'handler.ts')],
                outfile: join(outputDir, 'index.js'),
                bundle: true,
                platform: 'node',
                target: 'node22',
                format: 'cjs',
                minify: true,
                external: ['@aws-sdk/*'],
                logLevel: 'silent',
              })
              return true
            },
          },
        },
      }),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.minutes(1),
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: subnetGroups.nodes },
      securityGroups: [securityGroup],
      environment: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
    })
    props.database.connections.allowDefaultPortFrom(fn, 'application login bootstrap')
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.masterSecret.secretArn, props.appSecret.secretArn],
      }),
    )
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [props.key.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com`,
          },
        },
      }),
    )

    const provider = new cr.Provider(this, 'Provider', { onEventHandler: fn })
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::AppDatabaseLogin',
      properties: {
        MasterSecretArn: props.masterSecret.secretArn,
        AppSecretArn: props.appSecret.secretArn,
        AppUsername: props.username,
      },
    })
    this.resource.node.addDependency(props.database)
  }
}
