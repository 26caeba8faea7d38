import t from 'tap'
import { createX509Source, DirectorySource, WorkloadApiSource } from '../src/index.js'

t.test('createX509Source takes exactly one of the two variables', async (t) => {
  t.throws(
    () => createX509Source({}),
    /exactly one of SPIFFE_ENDPOINT_SOCKET or SPIFFE_SVID_DIR: neither/,
  )
  t.throws(
    () => createX509Source({ SPIFFE_ENDPOINT_SOCKET: 'unix:///x.sock', SPIFFE_SVID_DIR: '/x' }),
    /not both/,
  )
  t.throws(() => createX509Source({ SPIFFE_SVID_DIR: '  ' }), /neither/, 'blank is unset')
  const fromDir = createX509Source({ SPIFFE_SVID_DIR: t.testdir() })
  t.ok(fromDir instanceof DirectorySource)
  t.match(String(fromDir), /^SPIFFE_SVID_DIR \//, 'says where it reads')
  await fromDir.close()
  const fromSocket = createX509Source({ SPIFFE_ENDPOINT_SOCKET: 'unix:///nonexistent/agent.sock' })
  t.ok(fromSocket instanceof WorkloadApiSource)
  t.equal(String(fromSocket), 'SPIFFE_ENDPOINT_SOCKET unix:///nonexistent/agent.sock')
  await fromSocket.close()
})
