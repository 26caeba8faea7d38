import type { LabelSelector, Labels } from './types.js'

/**
 * Label selector semantics: every matchLabels pair and every matchExpressions
 * requirement must hold (AND); an empty selector ({}) matches everything.
 */
export function matchesSelector(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const value = labels[requirement.key]
    const values = requirement.values ?? []
    switch (requirement.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false
        break
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false
        break
      case 'Exists':
        if (value === undefined) return false
        break
      case 'DoesNotExist':
        if (value !== undefined) return false
        break
      default:
        throw new Error(`unknown label selector operator ${String(requirement.operator)}`)
    }
  }
  return true
}
