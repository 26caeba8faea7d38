/** A resolved short link, as the redirect saw it. */
export interface Visit {
  code: string
  at: Date
}

/**
 * Where visits go. Click counting belongs to the events pipeline (SQS and the
 * worker), so the resolve path only hands the visit over; a failure to record
 * is logged and never fails the redirect.
 */
export interface VisitRecorder {
  record(visit: Visit): Promise<void>
}

export const ignoreVisits: VisitRecorder = { record: async () => undefined }
