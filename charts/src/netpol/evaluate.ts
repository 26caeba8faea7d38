/**
 * Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), as documented at
 * kubernetes.io/docs/concepts/services-networking/network-policies:
 * - a policy selects the pods of its own namespace that match its podSelector;
 * - a pod is isolated for a direction when a policy selecting it has that
 *   direction in its policyTypes; a pod no such policy selects is open;
 * - policies are additive: an isolated pod admits a connection when any rule
 *   of any selecting policy allows it;
 * - a connection between two pods needs egress allowed at the source AND
 *   ingress allowed at the destination.
 * ipBlock rules are matched against the peer's address, pod or not (the AWS
 * VPC CNI gives pods VPC addresses, so a CIDR can cover pods too).
 */
import { cidrContains } from './cidr.js'
import { matchesSelector } from './selector.js'
import type {
  Cluster,
  Connection,
  Endpoint,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Pod,
  PolicyType,
} from './types.js'

const nameLabel = 'kubernetes.io/metadata.name'

/** policyTypes, or its default: Ingress always, Egress when the policy has egress rules. */
export function effectivePolicyTypes(policy: NetworkPolicy): PolicyType[] {
  if (policy.spec.policyTypes !== undefined) return policy.spec.policyTypes
  return (policy.spec.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress']
}

function namespaceOf(policy: NetworkPolicy): string {
  return policy.metadata.namespace ?? 'default'
}

/** The policies that select `pod` and isolate it for `direction`. */
export function isolatingPolicies(
  cluster: Cluster,
  pod: Pod,
  direction: PolicyType,
): NetworkPolicy[] {
  return cluster.policies.filter(
    (policy) =>
      namespaceOf(policy) === pod.namespace &&
      matchesSelector(policy.spec.podSelector, pod.labels) &&
      effectivePolicyTypes(policy).includes(direction),
  )
}

function namespaceLabels(cluster: Cluster, name: string): Record<string, string> {
  const namespace = cluster.namespaces.find((candidate) => candidate.name === name)
  return { ...namespace?.labels, [nameLabel]: name }
}

function ipOf(endpoint: Endpoint): string {
  return endpoint.kind === 'pod' ? endpoint.pod.ip : endpoint.external.ip
}

/** Whether `peer`, written in a policy of `policyNamespace`, matches `endpoint`. */
export function peerMatches(
  cluster: Cluster,
  peer: NetworkPolicyPeer,
  policyNamespace: string,
  endpoint: Endpoint,
): boolean {
  const { ipBlock, namespaceSelector, podSelector } = peer
  if (ipBlock !== undefined) {
    if (namespaceSelector !== undefined || podSelector !== undefined) {
      throw new Error('a peer with ipBlock may not also have selectors')
    }
    const ip = ipOf(endpoint)
    return (
      cidrContains(ipBlock.cidr, ip) &&
      !(ipBlock.except ?? []).some((cidr) => cidrContains(cidr, ip))
    )
  }
  if (namespaceSelector === undefined && podSelector === undefined) {
    throw new Error('a peer needs podSelector, namespaceSelector or ipBlock')
  }
  if (endpoint.kind !== 'pod') return false
  const pod = endpoint.pod
  // Both selectors in one peer: pods matching podSelector in namespaces matching
  // namespaceSelector. podSelector alone: the policy's own namespace.
  const inNamespace =
    namespaceSelector === undefined
      ? pod.namespace === policyNamespace
      : matchesSelector(namespaceSelector, namespaceLabels(cluster, pod.namespace))
  return inNamespace && (podSelector === undefined || matchesSelector(podSelector, pod.labels))
}

/**
 * Whether a rule's ports admit `connection`. Absent or empty ports: every
 * port. protocol defaults to TCP; an absent port means every port of the
 * protocol; endPort makes a range; a named port is looked up on the
 * destination pod (`target`), which a non-pod destination never has.
 */
export function portsMatch(
  ports: NetworkPolicyPort[] | undefined,
  connection: Connection,
  target: Endpoint,
): boolean {
  if (ports === undefined || ports.length === 0) return true
  return ports.some((rule) => {
    if ((rule.protocol ?? 'TCP') !== connection.protocol) return false
    if (rule.port === undefined) return true
    if (typeof rule.port === 'string') {
      if (target.kind !== 'pod') return false
      return (target.pod.ports ?? []).some(
        (port) =>
          port.name === rule.port &&
          (port.protocol ?? 'TCP') === connection.protocol &&
          port.containerPort === connection.port,
      )
    }
    const last = rule.endPort ?? rule.port
    return connection.port >= rule.port && connection.port <= last
  })
}

/** Whether `pod` may receive `connection` from `source` (ingress side). */
export function ingressAllowed(
  cluster: Cluster,
  source: Endpoint,
  pod: Pod,
  connection: Connection,
): boolean {
  const policies = isolatingPolicies(cluster, pod, 'Ingress')
  if (policies.length === 0) return true
  const target: Endpoint = { kind: 'pod', pod }
  return policies.some((policy) =>
    (policy.spec.ingress ?? []).some(
      (rule) =>
        (rule.from === undefined ||
          rule.from.length === 0 ||
          rule.from.some((peer) => peerMatches(cluster, peer, namespaceOf(policy), source))) &&
        portsMatch(rule.ports, connection, target),
    ),
  )
}

/** Whether `pod` may open `connection` to `destination` (egress side). */
export function egressAllowed(
  cluster: Cluster,
  pod: Pod,
  destination: Endpoint,
  connection: Connection,
): boolean {
  const policies = isolatingPolicies(cluster, pod, 'Egress')
  if (policies.length === 0) return true
  return policies.some((policy) =>
    (policy.spec.egress ?? []).some(
      (rule) =>
        (rule.to === undefined ||
          rule.to.length === 0 ||
          rule.to.some((peer) => peerMatches(cluster, peer, namespaceOf(policy), destination))) &&
        portsMatch(rule.ports, connection, destination),
    ),
  )
}

/** A connection happens only when the source may send it and the destination may receive it. */
export function connectionAllowed(
  cluster: Cluster,
  source: Endpoint,
  destination: Endpoint,
  connection: Connection,
): boolean {
  if (source.kind === 'pod' && !egressAllowed(cluster, source.pod, destination, connection))
    return false
  if (destination.kind === 'pod' && !ingressAllowed(cluster, source, destination.pod, connection))
    return false
  return true
}
