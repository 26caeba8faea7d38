import { DirectorySource } from './directory-source.js'
import { SourceError } from './errors.js'
import type { SourceLogger, X509Source } from './source.js'
import { WorkloadApiSource } from './workload-api-source.js'

/**
 * The source the environment asks for: the Workload API when
 * SPIFFE_ENDPOINT_SOCKET is set, the files in SPIFFE_SVID_DIR otherwise.
 * Exactly one of the two must be set.
 */
export function createX509Source(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: { logger?: SourceLogger } = {},
): X509Source {
  const endpoint = env.SPIFFE_ENDPOINT_SOCKET?.trim() || undefined
  const dir = env.SPIFFE_SVID_DIR?.trim() || undefined
  if (endpoint && dir) {
    throw new SourceError('set only one of SPIFFE_ENDPOINT_SOCKET and SPIFFE_SVID_DIR')
  }
  if (endpoint) return new WorkloadApiSource({ endpoint, logger: options.logger })
  if (dir) return new DirectorySource({ dir, logger: options.logger })
  throw new SourceError(
    'no SPIFFE source: set SPIFFE_ENDPOINT_SOCKET (Workload API) or SPIFFE_SVID_DIR (PEM files)',
  )
}
