import t from 'tap'
import { testApp } from './helpers/app.js'

t.test('the page is served with a strict Content Security Policy', async (t) => {
  const app = await testApp(t)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts from this origin only, nothing inline')
  t.match(csp, /style-src 'self'(;|$)/, 'styles from this origin only, nothing inline')
  t.match(csp, /object-src 'none'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.match(csp, /base-uri 'none'/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval|https:|\*/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['x-frame-options'], 'DENY')
})

t.test('the markup has no inline script, style or third-party resource', async (t) => {
  const app = await testApp(t)
  const html = (await app.inject('/')).body
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
  t.ok(scripts.length > 0)
  for (const [, attributes, content] of scripts) {
    t.match(attributes, /src="\/[^/]/, 'script comes from this origin')
    t.equal(content?.trim(), '', 'script element has no inline body')
  }
  t.notMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i, 'no inline styles or handlers')
  t.notMatch(html, /(src|href)="(https?:)?\/\//, 'no third-party URL')
})

t.test('the compiled script and stylesheet are served', async (t) => {
  const app = await testApp(t)
  const script = await app.inject('/app.js')
  t.equal(script.statusCode, 200)
  t.match(script.headers['content-type'], /javascript/)
  t.match(script.body, /\/api\/urls/, 'the bundle talks to the API')
  t.notMatch(script.body, /innerHTML/, 'no markup built from strings')
  const styles = await app.inject('/styles.css')
  t.equal(styles.statusCode, 200)
  t.match(styles.headers['content-type'], /text\/css/)
  t.equal((await app.inject('/favicon.svg')).statusCode, 200)
})

t.test('unknown paths are problem+json 404s, not files from elsewhere', async (t) => {
  const app = await testApp(t)
  for (const path of ['/nope', '/../package.json', '/%2e%2e/package.json', '/src/app.ts']) {
    const res = await app.inject(path)
    t.equal(res.statusCode, 404, path)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
  }
})
