import { CfnJson } from 'aws-cdk-lib'
import * as eks from 'aws-cdk-lib/aws-eks-v2'
import * as iam from 'aws-cdk-lib/aws-iam'
import { Construct } from 'constructs'
import type { IdentityMode } from './config.js'

/** The namespace every AWS-calling workload runs in (see the architecture's identity table). */
export const workloadNamespace = 'services'

/** Who may assume workload roles: the cluster, plus its OIDC provider for IRSA. */
export type WorkloadTrust =
  | { readonly mode: Extract<IdentityMode, 'irsa'>; readonly oidcProvider: eks.OidcProviderNative }
  | { readonly mode: Extract<IdentityMode, 'podIdentity'>; readonly cluster: eks.ICluster }

/** IRSA needs an IAM OIDC provider for the cluster's issuer; Pod Identity does not. */
export function workloadTrust(
  scope: Construct,
  mode: IdentityMode,
  cluster: eks.Cluster,
): WorkloadTrust {
  if (mode === 'podIdentity') return { mode, cluster }
  const oidcProvider = new eks.OidcProviderNative(scope, 'OidcProvider', {
    url: cluster.clusterOpenIdConnectIssuerUrl,
  })
  return { mode, oidcProvider }
}

export interface WorkloadRoleProps {
  readonly trust: WorkloadTrust
  /** Kubernetes ServiceAccount name; also names the role's purpose. */
  readonly serviceAccount: string
  /** Namespace of the ServiceAccount. @default `services` */
  readonly namespace?: string
  /** Exactly what the workload may do; statements must name actions and resources. */
  readonly statements?: iam.PolicyStatement[]
  /** Only for cluster components whose permissions AWS documents as a managed policy. */
  readonly managedPolicies?: iam.IManagedPolicy[]
  /**
   * Who binds the role to the ServiceAccount. `self` (default): a Pod
   * Identity association here, or the IRSA annotation in the app chart.
   * `addon`: the EKS add-on that owns the ServiceAccount (its
   * `podIdentityAssociations` or `serviceAccountRoleArn`), so the binding
   * exists before the add-on's pods start.
   */
  readonly boundBy?: 'self' | 'addon'
}

/**
 * One IAM role for one ServiceAccount. The trust policy admits only
 * `<namespace>/<serviceAccount>` of this cluster:
 * - irsa: AssumeRoleWithWebIdentity from the cluster's OIDC provider with
 *   StringEquals on the exact `sub` and `aud` claims;
 * - podIdentity: AssumeRole + TagSession by pods.eks.amazonaws.com, with the
 *   session tags EKS sets pinned to this cluster, namespace and service account, plus
 *   the Pod Identity association that binds them.
 */
export class WorkloadRole extends Construct {
  readonly role: iam.Role

  constructor(scope: Construct, id: string, props: WorkloadRoleProps) {
    super(scope, id)
    const { trust, serviceAccount } = props
    const namespace = props.namespace ?? workloadNamespace
    const subject = `system:serviceaccount:${namespace}:${serviceAccount}`

    let assumedBy: iam.IPrincipal
    if (trust.mode === 'irsa') {
      const issuer = trust.oidcProvider.oidcProviderIssuer
      // The issuer is only known at deploy time, and CloudFormation cannot
      // put an intrinsic in a JSON key: CfnJson resolves the keys then.
      const claims = new CfnJson(this, 'TrustedClaims', {
        value: { [`${issuer}:sub`]: subject, [`${issuer}:aud`]: 'sts.amazonaws.com' },
      })
      assumedBy = new iam.OpenIdConnectPrincipal(trust.oidcProvider, {
        StringEquals: claims,
      })
    } else {
      assumedBy = new iam.PrincipalWithConditions(
        new iam.ServicePrincipal('pods.eks.amazonaws.com'),
        {
          StringEquals: {
            'aws:RequestTag/eks-cluster-arn': trust.cluster.clusterArn,
            'aws:RequestTag/kubernetes-namespace': namespace,
            'aws:RequestTag/kubernetes-service-account': serviceAccount,
          },
        },
      ).withSessionTags()
    }

    this.role = new iam.Role(this, 'Role', {
      description: `${namespace}/${serviceAccount} via ${trust.mode}`,
      assumedBy,
      ...(props.statements && {
        inlinePolicies: { workload: new iam.PolicyDocument({ statements: props.statements }) },
      }),
      ...(props.managedPolicies && { managedPolicies: props.managedPolicies }),
    })

    if (trust.mode === 'podIdentity' && (props.boundBy ?? 'self') === 'self') {
      new eks.CfnPodIdentityAssociation(this, 'Association', {
        clusterName: trust.cluster.clusterName,
        namespace,
        serviceAccount,
        roleArn: this.role.roleArn,
      })
    }
  }
}
