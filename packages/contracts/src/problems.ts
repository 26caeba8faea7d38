import { z } from 'zod'

/**
 * One thing wrong with one part of the request: the `errors` extension
 * member of a problem document (RFC 9457 section 3.2). `field` names the
 * part of the request (`body`, `querystring`, `params`) and then the member
 * within it, joined with dots: `body.url`, `querystring.limit`. A problem
 * with the part as a whole (not an object, an unknown key) names the part
 * alone: `body`.
 */
export const FieldError = z.object({
  field: z.string().describe('Where: the request part and member, e.g. "body.url"'),
  message: z.string().describe('What is wrong with it, e.g. "must use http or https"'),
})
export type FieldError = z.infer<typeof FieldError>

/**
 * The one error body every service answers with (RFC 9457 problem+json).
 * `detail` is for people; a program reads `errors`, present when the problem
 * is about particular fields of the request.
 */
export const ProblemDocument = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(FieldError).optional(),
})
export type ProblemDocument = z.infer<typeof ProblemDocument>
