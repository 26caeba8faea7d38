import * as eks from 'aws-cdk-lib/aws-eks-v2'
import * as iam from 'aws-cdk-lib/aws-iam'
import { Construct } from 'constructs'
import { WorkloadRole, type WorkloadTrust } from './workload-identity.js'

/** The EKS add-on and the ServiceAccount its controller runs as (fixed by the add-on). */
export const ebsCsiDriver = {
  addonName: 'aws-ebs-csi-driver',
  provisioner: 'ebs.csi.aws.com',
  namespace: 'kube-system',
  serviceAccount: 'ebs-csi-controller-sa',
} as const

/** The cluster's default StorageClass: encrypted gp3 through the EBS CSI driver. */
export const storageClassName = 'gp3'

export interface BlockStorageProps {
  readonly cluster: eks.Cluster
  readonly trust: WorkloadTrust
}

/**
 * EBS volumes for PersistentVolumeClaims. A new EKS cluster has neither: no
 * StorageClass (EKS 1.30+ creates none) and no provisioner (the in-tree EBS
 * plugin is gone), so a PVC stays Pending.
 * - the aws-ebs-csi-driver add-on, its controller bound to its own role
 *   (AWS's managed AmazonEBSCSIDriverPolicy, trusted only by
 *   kube-system/ebs-csi-controller-sa of this cluster);
 * - StorageClass `gp3`, the cluster default: encrypted, bound only once the
 *   pod is scheduled (WaitForFirstConsumer), so the volume lands in the
 *   pod's AZ, tagged with the cluster name to find it after teardown.
 *
 * Volumes are encrypted with the account's AWS-managed `aws/ebs` key, like
 * the nodes' root volumes; a customer-managed key would need `kmsKeyId`
 * here and KMS grants for the driver's role.
 */
export class BlockStorage extends Construct {
  readonly addon: eks.Addon
  readonly role: iam.Role
  readonly storageClass: eks.KubernetesManifest

  constructor(scope: Construct, id: string, props: BlockStorageProps) {
    super(scope, id)
    const { cluster, trust } = props

    this.role = new WorkloadRole(this, 'DriverIdentity', {
      trust,
      namespace: ebsCsiDriver.namespace,
      serviceAccount: ebsCsiDriver.serviceAccount,
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEBSCSIDriverPolicy'),
      ],
      boundBy: 'addon',
    }).role

    this.addon = new eks.Addon(this, 'Driver', { cluster, addonName: ebsCsiDriver.addonName })
    const addon = this.addon.node.defaultChild as eks.CfnAddon
    if (trust.mode === 'podIdentity') {
      addon.podIdentityAssociations = [
        { serviceAccount: ebsCsiDriver.serviceAccount, roleArn: this.role.roleArn },
      ]
    } else {
      addon.serviceAccountRoleArn = this.role.roleArn
    }

    this.storageClass = new eks.KubernetesManifest(this, 'Gp3StorageClass', {
      cluster,
      manifest: [
        {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'StorageClass',
          metadata: {
            name: storageClassName,
            annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
          },
          provisioner: ebsCsiDriver.provisioner,
          volumeBindingMode: 'WaitForFirstConsumer',
          allowVolumeExpansion: true,
          reclaimPolicy: 'Delete',
          parameters: {
            type: 'gp3',
            encrypted: 'true',
            'csi.storage.k8s.io/fstype': 'ext4',
            tagSpecification_1: `eks-cluster-name=${cluster.clusterName}`,
          },
        },
      ],
    })
  }
}
