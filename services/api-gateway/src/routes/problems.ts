import { ProblemDocument } from '@zt/contracts'
import type { Problem } from '@zt/service-kit'
import type { z } from 'zod'

// The error handler (service-kit) writes the shape the contract (and so the
// OpenAPI document and the browser) describes: this fails to compile if
// either side gains or loses a member.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
export const problemShapesAgree: Same<Problem, z.output<typeof ProblemDocument>> = true

/** Documents problem+json answers for the given statuses in the OpenAPI output. */
export function problems(...statuses: number[]): Record<number, typeof ProblemDocument> {
  return Object.fromEntries(statuses.map((status) => [status, ProblemDocument]))
}
