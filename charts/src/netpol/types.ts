/**
 * The subset of the networking.k8s.io/v1 NetworkPolicy API the evaluator
 * understands, plus the cluster model it evaluates against.
 */

export type Protocol = 'TCP' | 'UDP' | 'SCTP'
export type Labels = Readonly<Record<string, string>>

export interface LabelSelectorRequirement {
  key: string
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'
  values?: string[]
}

export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: LabelSelectorRequirement[]
}

export interface IPBlock {
  cidr: string
  except?: string[]
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector
  namespaceSelector?: LabelSelector
  ipBlock?: IPBlock
}

export interface NetworkPolicyPort {
  protocol?: Protocol
  port?: number | string
  endPort?: number
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[]
  ports?: NetworkPolicyPort[]
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[]
  ports?: NetworkPolicyPort[]
}

export type PolicyType = 'Ingress' | 'Egress'

export interface NetworkPolicy {
  metadata: { name: string; namespace?: string }
  spec: {
    podSelector: LabelSelector
    policyTypes?: PolicyType[]
    ingress?: NetworkPolicyIngressRule[]
    egress?: NetworkPolicyEgressRule[]
  }
}

export interface ContainerPort {
  name?: string
  containerPort: number
  protocol?: Protocol
}

export interface Namespace {
  name: string
  /** Labels as set; kubernetes.io/metadata.name is added automatically, as the API server does. */
  labels?: Labels
}

export interface Pod {
  name: string
  namespace: string
  labels: Labels
  ip: string
  ports?: ContainerPort[]
}

/** Something outside the cluster's pod network, known only by its address. */
export interface External {
  name: string
  ip: string
}

export type Endpoint = { kind: 'pod'; pod: Pod } | { kind: 'external'; external: External }

export interface Connection {
  protocol: Protocol
  port: number
}

export interface Cluster {
  namespaces: Namespace[]
  pods: Pod[]
  policies: NetworkPolicy[]
}
