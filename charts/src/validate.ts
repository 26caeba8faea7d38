/**
 * Offline validation of rendered objects: the Kubernetes OpenAPI schema via
 * kubernetes-models (types, required fields, enums; it does not reject
 * unknown fields), and a structural check of the ClusterSPIFFEID CRD, which
 * kubernetes-models does not know.
 */

import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { Job } from 'kubernetes-models/batch/v1/Job'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { Pod } from 'kubernetes-models/v1/Pod'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import type { K8sObject } from './helm.js'

type Validator = (object: K8sObject) => void
const model =
  <T extends { validate(): void }>(Model: new (data: never) => T): Validator =>
  (object) =>
    new Model(object as never).validate()

const validators: Record<string, Validator> = {
  'v1/Pod': model(Pod),
  'v1/Namespace': model(Namespace),
  'v1/Service': model(Service),
  'v1/ServiceAccount': model(ServiceAccount),
  'v1/ConfigMap': model(ConfigMap),
  'apps/v1/Deployment': model(Deployment),
  'batch/v1/Job': model(Job),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': model(HorizontalPodAutoscaler),
  'networking.k8s.io/v1/NetworkPolicy': model(NetworkPolicy),
  'networking.k8s.io/v1/Ingress': model(Ingress),
  'spire.spiffe.io/v1alpha1/ClusterSPIFFEID': validateClusterSpiffeId,
  'monitoring.coreos.com/v1/PodMonitor': validatePodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': validatePrometheusRule,
}

const selectorKeys = new Set(['matchLabels', 'matchExpressions'])
/** The ClusterSPIFFEID spec fields this chart may use (spire-controller-manager docs/clusterspiffeid-crd.md). */
const clusterSpiffeIdSpecKeys = new Set([
  'spiffeIDTemplate',
  'podSelector',
  'namespaceSelector',
  'className',
  'ttl',
  'jwtTtl',
  'dnsNameTemplates',
  'federatesWith',
  'admin',
  'downstream',
  'autoPopulateDNSNames',
  'workloadSelectorTemplates',
  'hint',
  'fallback',
])

function validateClusterSpiffeId(object: K8sObject): void {
  if (object.metadata.namespace !== undefined)
    throw new Error('ClusterSPIFFEID is cluster-scoped: no namespace')
  const spec = object.spec as Record<string, unknown> | undefined
  if (spec === undefined || typeof spec !== 'object')
    throw new Error('ClusterSPIFFEID needs a spec')
  for (const key of Object.keys(spec)) {
    if (!clusterSpiffeIdSpecKeys.has(key))
      throw new Error(`ClusterSPIFFEID: unknown spec field ${key}`)
  }
  if (typeof spec.spiffeIDTemplate !== 'string' || !spec.spiffeIDTemplate.startsWith('spiffe://')) {
    throw new Error('ClusterSPIFFEID: spiffeIDTemplate must be a spiffe:// template')
  }
  for (const field of ['podSelector', 'namespaceSelector']) {
    const selector = spec[field]
    if (selector === undefined) continue
    if (typeof selector !== 'object' || selector === null)
      throw new Error(`ClusterSPIFFEID: ${field} must be a selector`)
    for (const key of Object.keys(selector)) {
      if (!selectorKeys.has(key)) throw new Error(`ClusterSPIFFEID: unknown ${field} field ${key}`)
    }
  }
}

/** Throws unless `value` is an object whose keys are all `allowed`. */
function checkKeys(kind: string, where: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${kind}: ${where} must be an object`)
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new Error(`${kind}: unknown ${where} field ${key}`)
  }
}

/*
 * The Prometheus Operator's objects, which kubernetes-models does not know
 * either: structure and the fields this chart uses, as its CRDs
 * (monitoring.coreos.com/v1) name them, so a typo fails here, not silently
 * in the operator.
 */
function validatePodMonitor(object: K8sObject): void {
  const spec = object.spec as { selector?: unknown; podMetricsEndpoints?: unknown } | undefined
  checkKeys('PodMonitor', 'spec', spec, ['selector', 'podMetricsEndpoints', 'namespaceSelector'])
  checkKeys('PodMonitor', 'selector', spec?.selector, [...selectorKeys])
  const endpoints = spec?.podMetricsEndpoints
  if (!Array.isArray(endpoints) || endpoints.length === 0)
    throw new Error('PodMonitor: podMetricsEndpoints must list at least one endpoint')
  for (const endpoint of endpoints as { port?: unknown }[]) {
    checkKeys('PodMonitor', 'endpoint', endpoint, ['port', 'path', 'interval', 'scheme'])
    if (typeof endpoint.port !== 'string')
      throw new Error('PodMonitor: endpoint port must be a name')
  }
}

function validatePrometheusRule(object: K8sObject): void {
  const spec = object.spec as { groups?: unknown } | undefined
  checkKeys('PrometheusRule', 'spec', spec, ['groups'])
  if (!Array.isArray(spec?.groups)) throw new Error('PrometheusRule: groups must be a list')
  for (const group of spec.groups as { name?: unknown; rules?: unknown }[]) {
    checkKeys('PrometheusRule', 'group', group, ['name', 'interval', 'rules'])
    if (typeof group.name !== 'string' || !Array.isArray(group.rules))
      throw new Error('PrometheusRule: a group needs a name and rules')
    for (const rule of group.rules as { alert?: unknown; record?: unknown; expr?: unknown }[]) {
      checkKeys('PrometheusRule', 'rule', rule, [
        'alert',
        'record',
        'expr',
        'for',
        'labels',
        'annotations',
      ])
      if (
        typeof rule.expr !== 'string' ||
        (typeof rule.alert !== 'string') === (typeof rule.record !== 'string')
      )
        throw new Error('PrometheusRule: a rule needs an expr and exactly one of alert or record')
    }
  }
}

/** Throws with the object's identity when it does not validate. */
export function validateObject(object: K8sObject): void {
  const validator = validators[`${object.apiVersion}/${object.kind}`]
  if (validator === undefined)
    throw new Error(`no validator for ${object.apiVersion} ${object.kind}`)
  try {
    validator(object)
  } catch (error) {
    throw new Error(
      `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}: ${String(error)}`,
    )
  }
}
