import { SQSClient } from '@aws-sdk/client-sqs'

export interface SqsClientOptions {
  region?: string
  /** Must exceed a long poll's wait time, or every empty poll would time out. */
  requestTimeoutMs: number
}

/**
 * The SQS client both workloads use. Credentials come from the SDK's default
 * chain (IRSA or Pod Identity in the cluster). The endpoint is the regional
 * one, or AWS_ENDPOINT_URL_SQS where an emulator stands in: the SDK would
 * otherwise send each call to the host inside the queue URL, which an
 * emulator's URL does not make resolvable, and the redirect would need a
 * second mechanism.
 */
export function createSqsClient(options: SqsClientOptions): SQSClient {
  return new SQSClient({
    ...(options.region ? { region: options.region } : {}),
    useQueueUrlAsEndpoint: false,
    requestHandler: { connectionTimeout: 2000, requestTimeout: options.requestTimeoutMs },
  })
}
