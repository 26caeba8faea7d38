import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildWebAssets } from '../src/assets.js'

t.test('the build writes a self-contained static bundle', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'zt-web-'))
  t.teardown(() => rm(out, { recursive: true, force: true }))
  await buildWebAssets(out)
  t.same((await readdir(out)).sort(), ['app.js', 'favicon.svg', 'index.html', 'styles.css'])
  const script = await readFile(join(out, 'app.js'), 'utf8')
  t.notMatch(script, /\bimport\s*[({"']|require\(/, 'bundled: no module loads at run time')
  t.notMatch(script, /https?:\/\/(?!www\.w3\.org)/, 'no third-party origin in the code')
  const html = await readFile(join(out, 'index.html'), 'utf8')
  t.notMatch(html, /(src|href)="(https?:)?\/\//, 'no resource from another origin')
})
