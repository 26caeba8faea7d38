import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'

export type SslMode = 'verify-full' | 'disable'

/**
 * TLS options for pg. verify-full means the chain must lead to the CA bundle
 * (DB_SSL_CA_FILE, e.g. the RDS global bundle; Node's roots without it) and
 * the certificate must name the host we dialled: pg sets `servername` to the
 * host name and Node's checkServerIdentity rejects any mismatch.
 */
export function sslOptions(mode: SslMode, caFile: string | undefined): false | ConnectionOptions {
  if (mode === 'disable') return false
  return caFile
    ? { rejectUnauthorized: true, ca: readFileSync(caFile, 'utf8') }
    : { rejectUnauthorized: true }
}
