import * as ec2 from 'aws-cdk-lib/aws-ec2'
import { Construct } from 'constructs'

/** Subnet groups; their names are how other constructs pick subnets. */
export const subnetGroups = {
  public: 'public',
  /** Nodes and pods (VPC CNI gives pods addresses here), so it is large. */
  nodes: 'nodes',
  /** Interface endpoint ENIs only: the CIDRs the chart opens for TCP 443. */
  endpoints: 'endpoints',
  /** RDS only: the CIDRs the chart opens for TCP 5432. */
  data: 'data',
} as const

export interface NetworkProps {
  readonly natGateways: number
}

/**
 * Two AZs, four subnet groups. Nodes sit in private subnets with NAT egress:
 * SPIRE's images (ghcr.io), its Helm repository and the EKS API used by the
 * kubectl handler are on the internet. Application pods still reach only what
 * their NetworkPolicies allow: AWS APIs through the endpoint subnets, the
 * database through the data subnets. Endpoints and data subnets are isolated
 * (no route out at all).
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc
  /** CIDRs of the interface endpoint subnets (literal strings, known at synth). */
  readonly endpointCidrs: string[]
  /** CIDRs of the database subnets (literal strings, known at synth). */
  readonly databaseCidrs: string[]
  /** CIDRs of the node subnets: with the VPC CNI, pods take their addresses here. */
  readonly podCidrs: string[]
  /** CIDRs of the public subnets, where an internet-facing load balancer sits. */
  readonly publicCidrs: string[]

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id)
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: 2,
      natGateways: props.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: subnetGroups.public, subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: subnetGroups.nodes, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 19 },
        { name: subnetGroups.endpoints, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 27 },
        { name: subnetGroups.data, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 27 },
      ],
    })

    const interfaceEndpoints = {
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    }
    for (const [name, service] of Object.entries(interfaceEndpoints)) {
      // open: true admits TCP 443 from the VPC CIDR only; private DNS makes
      // the SDK's default regional hostnames resolve to these ENIs.
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: { subnetGroupName: subnetGroups.endpoints },
        privateDnsEnabled: true,
        open: true,
      })
    }
    // ECR image layers are served from S3: keep node pulls on the gateway.
    this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnetGroupName: subnetGroups.nodes }],
    })

    this.endpointCidrs = this.cidrsOf(subnetGroups.endpoints)
    this.databaseCidrs = this.cidrsOf(subnetGroups.data)
    this.podCidrs = this.cidrsOf(subnetGroups.nodes)
    this.publicCidrs = this.cidrsOf(subnetGroups.public)
  }

  private cidrsOf(subnetGroupName: string): string[] {
    return this.vpc.selectSubnets({ subnetGroupName }).subnets.map((subnet) => subnet.ipv4CidrBlock)
  }
}
