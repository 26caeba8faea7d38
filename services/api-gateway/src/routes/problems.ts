import { ProblemDocument } from '@zt/contracts'

/** Documents problem+json answers for the given statuses in the OpenAPI output. */
export function problems(...statuses: number[]): Record<number, typeof ProblemDocument> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemDocument]))
}
