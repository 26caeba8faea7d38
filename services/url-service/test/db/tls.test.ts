import { execFile } from 'node:child_process'
import { chmod, copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startEmbeddedPostgres } from '@zt/devkit'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'
import { startPrivatePostgres } from '../helpers/private-postgres.js'
import { silent } from '../helpers/setup.js'

const run = promisify(execFile)
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

async function makeCa(dir: string, name: string): Promise<void> {
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.crt`),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
}

// A server certificate for the name "localhost" only, signed by test-ca.
async function makeServerCert(dir: string): Promise<void> {
  await writeFile(
    join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n',
  )
  await run('openssl', [
    'req',
    ...ec,
    '-subj',
    '/CN=localhost',
    '-keyout',
    join(dir, 'server.key'),
    '-out',
    join(dir, 'server.csr'),
  ])
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    join(dir, 'server.csr'),
    '-days',
    '1',
    '-CA',
    join(dir, 'test-ca.crt'),
    '-CAkey',
    join(dir, 'test-ca.key'),
    '-CAcreateserial',
    '-extfile',
    join(dir, 'server.ext'),
    '-out',
    join(dir, 'server.crt'),
  ])
}

// Start once to initialise, then restart with TLS and the files placed in the
// data directory, owned by the server's user, key 0600 (PostgreSQL insists).
const plain = await startPrivatePostgres(t)
const dir = plain.dataDir
await makeCa(dir, 'test-ca')
await makeCa(dir, 'other-ca')
await makeServerCert(dir)
for (const file of ['server.key', 'server.crt']) {
  await copyFile(join(dir, file), join(dir, `tls-${file}`))
  await plain.giveToServer(join(dir, `tls-${file}`))
}
await chmod(join(dir, 'tls-server.key'), 0o600)
await plain.server.stop()
const tlsServer = await startEmbeddedPostgres({
  dataDir: dir,
  port: plain.server.port,
  settings: { ssl: 'on', ssl_cert_file: 'tls-server.crt', ssl_key_file: 'tls-server.key' },
})
t.teardown(() => tlsServer.stop())

const password = encodeURIComponent('postgres')
const urlFor = (host: string) =>
  `postgres://postgres:${password}@${host}:${tlsServer.port}/postgres`

async function connectWith(env: Record<string, string>) {
  const db = await openDatabase(loadConfig({ LOG_LEVEL: 'silent', ...env }), {
    logger: silent,
    max: 1,
  })
  try {
    const { rows } = await db.query<{ ssl: boolean; version: string }>(
      'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    )
    return rows[0]
  } finally {
    await db.close()
  }
}

/** verify-full, dialling `host`, with the CA file `ca` (test-ca or other-ca). */
const verifyFull = (host: string, ca: string) =>
  connectWith({
    DATABASE_URL: urlFor(host),
    DB_SSL_MODE: 'verify-full',
    DB_SSL_CA_FILE: join(dir, `${ca}.crt`),
  })

t.test('verify-full with the right CA and host name: connected over TLS', async (t) => {
  const row = await verifyFull('localhost', 'test-ca')
  t.equal(row?.ssl, true, 'the session is encrypted')
  t.match(row?.version, /^TLSv1\.[23]$/)
})

t.test('verify-full refuses a server whose chain leads to another CA', async (t) => {
  await t.rejects(verifyFull('localhost', 'other-ca'), {
    code: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN/,
  })
})

t.test('verify-full refuses a certificate issued for another host name', async (t) => {
  // Same server, right CA, dialled as 127.0.0.1: the certificate names only localhost.
  await t.rejects(verifyFull('127.0.0.1', 'test-ca'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
})

t.test('verify-full without a CA file trusts only public roots, not a private CA', async (t) => {
  await t.rejects(connectWith({ DATABASE_URL: urlFor('localhost'), DB_SSL_MODE: 'verify-full' }), {
    code: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN/,
  })
})
