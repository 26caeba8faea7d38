import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { readZipEntry } from '../src/zip.js'

// Written by Python's zipfile: one stored entry, one deflated, and an archive comment.
const sample = new URL('./fixtures/sample.zip', import.meta.url).pathname

t.test('reads stored and deflated entries', async (t) => {
  t.equal(readZipEntry(sample, 'dir/stored.txt').toString(), 'kept as it is\n')
  t.equal(readZipEntry(sample, 'dir/deflated.txt').toString(), `${'squeezed '.repeat(50)}\n`)
})

t.test('an entry that is not there is an error, not an empty file', async (t) => {
  t.throws(() => readZipEntry(sample, 'dir/missing.txt'), /has no dir\/missing\.txt/)
})

t.test('a damaged entry fails its CRC-32 instead of being returned', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-zip-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const damaged = join(dir, 'damaged.zip')
  copyFileSync(sample, damaged)
  const bytes = readFileSync(damaged)
  const at = bytes.indexOf('kept as it is')
  bytes[at] = 'K'.charCodeAt(0)
  writeFileSync(damaged, bytes)
  t.throws(() => readZipEntry(damaged, 'dir/stored.txt'), /fails its CRC-32/)
})

t.test('a file that is not a zip is refused', async (t) => {
  t.throws(() => readZipEntry(new URL(import.meta.url).pathname, 'x'), /is not a zip archive/)
})
