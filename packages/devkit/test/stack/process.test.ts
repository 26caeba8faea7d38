import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { ManagedProcess } from '../../src/stack/process.js'

const here = dirname(fileURLToPath(import.meta.url))

t.test('nodeArgs reach node before the entry (e.g. --cpu-prof for a benchmark)', async (t) => {
  const lines: string[] = []
  const child = new ManagedProcess({
    name: 'probe',
    cwd: join(here, '../..'),
    entry: 'test/fixtures/exec-argv.ts',
    nodeArgs: ['--max-old-space-size=64'],
    env: {},
    output: (_name, line) => lines.push(line),
  })
  child.start()
  t.equal(await child.exited, 0)
  const argv = JSON.parse(lines.find((l) => l.startsWith('[')) ?? '[]') as string[]
  t.ok(argv.includes('--conditions=zt-source'), 'the usual flags stay')
  // After tsx, so an extra --import may name a TypeScript module.
  t.equal(argv.at(-1), '--max-old-space-size=64', 'the extra flag comes after them')
  t.ok(argv.indexOf('--import=tsx') < argv.indexOf('--max-old-space-size=64'))
})

t.test('a compiled .js entry runs on plain node, as in the images', async (t) => {
  const lines: string[] = []
  const child = new ManagedProcess({
    name: 'probe',
    cwd: join(here, '../..'),
    entry: 'test/fixtures/exec-argv.js',
    env: {},
    output: (_name, line) => lines.push(line),
  })
  child.start()
  t.equal(await child.exited, 0)
  t.same(
    JSON.parse(lines.find((l) => l.startsWith('[')) ?? 'null'),
    [],
    'no tsx, no source condition',
  )
})
