/**
 * The UI in Debian's Chromium against the real chain: frontend -> api-gateway
 * -> url-service over SPIFFE mTLS -> PostgreSQL. Screenshots go to
 * artifacts/frontend/ at the repository root (git-ignored; CI keeps them).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import t from 'tap'
import { startFrontendChain } from './helpers/chain.js'

// Expressions given to page.evaluate as strings run in the page; the test
// itself is compiled without DOM types.

const artifacts = fileURLToPath(new URL('../../../artifacts/frontend/', import.meta.url))
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

// The page a short link leads to: another origin, as in real use.
const visits: { url: string; referer: string | undefined }[] = []
const target = createServer((req, res) => {
  visits.push({ url: req.url ?? '', referer: req.headers.referer })
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
  res.end('<!doctype html><title>Landing</title><h1>You have arrived</h1>')
})
await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise((resolve) => target.close(resolve)))
const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/landing?from=short`

const chain = await startFrontendChain(t)

const profile = await mkdtemp(join(tmpdir(), 'zt-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1100, height: 900 },
})
t.teardown(async () => {
  await context.close()
  await rm(profile, { recursive: true, force: true })
})
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: chain.frontendUrl })
await mkdir(artifacts, { recursive: true })

const page = context.pages()[0] ?? (await context.newPage())
const problems: string[] = []
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
page.on('console', (message) => {
  if (message.type() === 'error') problems.push(`console: ${message.text()}`)
})
page.setDefaultTimeout(10_000)

async function screenshot(name: string): Promise<void> {
  const path = join(artifacts, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  t.comment(`screenshot: ${path}`)
}

t.test('create a link with the keyboard and get a short link to copy', async (t) => {
  await page.goto(chain.frontendUrl)
  await page.getByText('No links yet.').waitFor()
  await page.keyboard.press('Tab')
  t.equal(
    await page.evaluate<string | undefined>('document.activeElement?.id'),
    'url',
    'the URL field is first',
  )
  await page.keyboard.type(targetUrl)
  await page.keyboard.press('Tab')
  await page.keyboard.type('browser-test')
  await page.keyboard.press('Enter')

  const shortLink = page.locator('#short-link')
  await shortLink.waitFor()
  const expected = `${chain.frontendUrl}/r/browser-test`
  t.equal(await shortLink.textContent(), expected)
  t.equal(await page.locator('#url').inputValue(), '', 'the form is ready for the next one')

  await page.locator('#copy').click()
  await page.getByText('Copied to the clipboard.').waitFor()
  t.equal(await page.evaluate<string>('navigator.clipboard.readText()'), expected, 'copied')
})

t.test('the new link is listed with its clicks and expiry', async (t) => {
  const item = page.locator('#recent li', { hasText: 'browser-test' })
  await item.waitFor()
  t.match(await item.textContent(), /0 clicks/)
  t.match(await item.textContent(), /never expires/)
  t.match(await item.locator('.target').textContent(), targetUrl)

  // One with an expiry, entered the way a person would.
  await page.locator('#url').fill('https://example.com/expiring')
  // datetime-local takes local wall-clock time, as a person types it.
  const inThreeDays = new Date(Date.now() + 3 * 86_400_000 + 3_600_000)
  const local = new Date(inThreeDays.getTime() - inThreeDays.getTimezoneOffset() * 60_000)
  await page.locator('#expiresAt').fill(local.toISOString().slice(0, 16))
  await page.getByRole('button', { name: 'Shorten' }).click()
  const expiring = page.locator('#recent li', { hasText: 'example.com/expiring' })
  await expiring.waitFor()
  t.match(await expiring.textContent(), /expires in 3 days/)
  await screenshot('created')
})

t.test('following the short link lands on the target', async (t) => {
  await page.locator('#recent li', { hasText: 'browser-test' }).locator('a.code').click()
  await page.waitForURL(targetUrl)
  t.equal(await page.locator('h1').textContent(), 'You have arrived')
  t.same(
    visits.map((v) => v.url).filter((url) => url.startsWith('/landing')),
    ['/landing?from=short'],
  )
  await page.goBack()
  await page.locator('#recent li').first().waitFor()
})

t.test('an invalid URL is rejected with a readable message next to the field', async (t) => {
  await page.locator('#url').fill('javascript:alert(document.cookie)')
  await page.getByRole('button', { name: 'Shorten' }).click()
  const alert = page.getByRole('alert').filter({ hasText: 'Long URL' })
  await alert.waitFor()
  t.equal(await alert.textContent(), 'Long URL: Must use http or https')
  t.equal(await page.locator('#url-error').textContent(), 'Must use http or https')
  t.equal(await page.locator('#url').getAttribute('aria-invalid'), 'true')
  t.equal(
    await page.evaluate<string | undefined>('document.activeElement?.id'),
    'url',
    'focus returns to it',
  )
  await screenshot('invalid-url')

  await page.locator('#url').fill('not a url')
  await page.locator('#alias').fill('api')
  await page.getByRole('button', { name: 'Shorten' }).click()
  await page.locator('#alias-error', { hasText: 'reserved' }).waitFor()
  t.equal(await page.locator('#alias-error').textContent(), 'Is a reserved word')
  t.match(await page.locator('#url-error').textContent(), /whitespace|absolute/)

  await page.locator('#url').fill('https://example.com/again')
  await page.locator('#alias').fill('browser-test')
  await page.getByRole('button', { name: 'Shorten' }).click()
  await page.locator('#url[aria-invalid]').waitFor({ state: 'detached' })
  await page.locator('#alias-error:not([hidden])').waitFor()
  t.equal(
    await page.locator('#alias-error').textContent(),
    'Is already taken',
    'a taken alias says so, from the errors of the conflict',
  )
})

t.test('field messages come from the errors of a problem, never from its detail', async (t) => {
  // A problem whose detail names no field in the "body.x: ..." form: only
  // errors can put the message under the field.
  let problem: object = {
    type: 'about:blank',
    title: 'Bad Request',
    status: 400,
    detail: 'The request was refused.',
    errors: [
      { field: 'body.expiresAt', message: 'must be within ten years' },
      { field: 'body.somethingElse', message: 'is not on this form' },
    ],
  }
  await page.route('**/api/urls', (route) =>
    route.request().method() === 'POST'
      ? route.fulfill({
          status: 400,
          contentType: 'application/problem+json',
          body: JSON.stringify(problem),
        })
      : route.fallback(),
  )
  t.teardown(() => page.unroute('**/api/urls'))

  await page.locator('#url').fill('https://example.com/errors')
  await page.locator('#alias').fill('')
  await page.getByRole('button', { name: 'Shorten' }).click()
  await page.locator('#expiresAt-error:not([hidden])').waitFor()
  t.equal(await page.locator('#expiresAt-error').textContent(), 'Must be within ten years')
  t.equal(await page.locator('#expiresAt').getAttribute('aria-invalid'), 'true')
  t.equal(await page.locator('#url').getAttribute('aria-invalid'), null, 'the URL is not blamed')
  t.equal(await page.locator('#alias').getAttribute('aria-invalid'), null)

  // Malformed entries are ignored; the detail is then all there is to show.
  problem = {
    ...problem,
    detail: 'body.url: must use http or https',
    errors: [{ field: 'body.url' }],
  }
  await page.getByRole('button', { name: 'Shorten' }).click()
  await page.locator('#expiresAt[aria-invalid]').waitFor({ state: 'detached' })
  await page.locator('#form-error', { hasText: 'must use http' }).waitFor()
  t.equal(await page.locator('#form-error').textContent(), 'body.url: must use http or https')
  t.equal(await page.locator('#url').getAttribute('aria-invalid'), null, 'detail is not parsed')
})

t.test('the page fits a phone screen', async (t) => {
  await page.setViewportSize({ width: 375, height: 812 })
  await page.reload()
  await page.locator('#recent li').first().waitFor()
  const overflow = await page.evaluate<number>(
    'document.documentElement.scrollWidth - document.documentElement.clientWidth',
  )
  t.equal(overflow, 0, 'no sideways scrolling')
  await screenshot('phone')
})

t.test('nothing was blocked by the Content Security Policy or failed in the page', async (t) => {
  // Failed API calls the tests provoked log as resource errors; anything else counts.
  const unexpected = problems.filter(
    (p) => !/Failed to load resource: the server responded with a status of (400|409)/.test(p),
  )
  t.same(unexpected, [])
})
