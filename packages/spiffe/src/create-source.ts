import { DirectorySource } from './directory-source.js'
import { SourceError } from './errors.js'
import type { SourceLogger, X509Source } from './source.js'
import { WorkloadApiSource } from './workload-api-source.js'

/** The two environment variables that say where this workload's SVID comes from. */
export interface SourceSettings {
  SPIFFE_ENDPOINT_SOCKET?: string | undefined
  SPIFFE_SVID_DIR?: string | undefined
}

/**
 * The one rule for the source settings, shared by createX509Source and the
 * config fragment so a service refuses at config time exactly what would
 * fail here: exactly one of the two, blanks counting as unset.
 */
export function selectSource(settings: SourceSettings): { endpoint: string } | { dir: string } {
  const endpoint = settings.SPIFFE_ENDPOINT_SOCKET?.trim() || undefined
  const dir = settings.SPIFFE_SVID_DIR?.trim() || undefined
  if (endpoint !== undefined && dir !== undefined) {
    throw new SourceError('set exactly one of SPIFFE_ENDPOINT_SOCKET or SPIFFE_SVID_DIR, not both')
  }
  if (endpoint !== undefined) return { endpoint }
  if (dir !== undefined) return { dir }
  throw new SourceError(
    'set exactly one of SPIFFE_ENDPOINT_SOCKET or SPIFFE_SVID_DIR: neither is set ' +
      '(SPIFFE_ENDPOINT_SOCKET: the Workload API; SPIFFE_SVID_DIR: PEM files)',
  )
}

/**
 * The source the settings select: the Workload API for
 * SPIFFE_ENDPOINT_SOCKET, the files in SPIFFE_SVID_DIR otherwise.
 */
export function createX509Source(
  settings: SourceSettings,
  options: { logger?: SourceLogger } = {},
): X509Source {
  const selected = selectSource(settings)
  return 'endpoint' in selected
    ? new WorkloadApiSource({ endpoint: selected.endpoint, logger: options.logger })
    : new DirectorySource({ dir: selected.dir, logger: options.logger })
}
