/**
 * The short-link UI: one form, one result, one list. Everything is built
 * with DOM APIs and textContent (never innerHTML), so data from the server
 * cannot become markup, and the page needs no inline script or style.
 */

// Types only: esbuild drops these imports, so no schema code reaches the page.
import type { CreatedUrl, FieldError, UrlPage, UrlRecord } from '@zt/contracts'

type Field = 'url' | 'alias' | 'expiresAt'

/** The API's name for each form field in a problem's `errors`. */
const fieldsByName: Readonly<Record<string, Field>> = {
  'body.url': 'url',
  'body.alias': 'alias',
  'body.expiresAt': 'expiresAt',
}

const fieldLabels: Record<Field, string> = {
  url: 'Long URL',
  alias: 'Custom alias',
  expiresAt: 'Expires',
}

const pageSize = 10

class ApiError extends Error {
  readonly status: number
  /** The problem document's `errors`, when it had well-formed ones. */
  readonly errors: readonly FieldError[]

  constructor(status: number, message: string, errors: readonly FieldError[] = []) {
    super(message)
    this.status = status
    this.errors = errors
  }
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id)
  if (!found) throw new Error(`missing #${id}`)
  return found as T
}

function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  if (props.className) node.className = props.className
  if (props.text !== undefined) node.textContent = props.text
  node.append(...children)
  return node
}

function describeFailure(status: number, body: unknown): string {
  if (typeof body === 'object' && body !== null && 'detail' in body) {
    const { detail } = body as { detail: unknown }
    if (typeof detail === 'string' && detail.trim() !== '') return detail
  }
  if (status === 429) return 'Too many requests. Wait a moment and try again.'
  if (status >= 500) return 'The service is having trouble. Try again shortly.'
  return `The request failed (HTTP ${status}).`
}

function isFieldError(value: unknown): value is FieldError {
  if (typeof value !== 'object' || value === null) return false
  const { field, message } = value as Record<string, unknown>
  return typeof field === 'string' && typeof message === 'string' && message.trim() !== ''
}

/** A problem document's `errors`, checked entry by entry: nothing else is trusted. */
function fieldErrorsOf(body: unknown): FieldError[] {
  if (typeof body !== 'object' || body === null || !('errors' in body)) return []
  const { errors } = body as { errors: unknown }
  return Array.isArray(errors) ? errors.filter(isFieldError) : []
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
    })
  } catch {
    throw new ApiError(0, 'Could not reach the server. Check your connection and try again.')
  }
  const body: unknown = await response.json().catch(() => undefined)
  if (!response.ok) {
    throw new ApiError(response.status, describeFailure(response.status, body), fieldErrorsOf(body))
  }
  return body as T
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/**
 * The messages a problem's `errors` holds for this form's fields; the first
 * for each field wins. Errors about anything else are left to `detail`.
 */
function fieldMessages(errors: readonly FieldError[]): Partial<Record<Field, string>> {
  const messages: Partial<Record<Field, string>> = {}
  for (const { field, message } of errors) {
    const input = Object.hasOwn(fieldsByName, field) ? fieldsByName[field] : undefined
    if (input && messages[input] === undefined) messages[input] = capitalize(message)
  }
  return messages
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

function fromNow(iso: string): string {
  const seconds = (Date.parse(iso) - Date.now()) / 1000
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['year', 31_536_000],
    ['month', 2_592_000],
    ['day', 86_400],
    ['hour', 3600],
    ['minute', 60],
  ]
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit)
  }
  return relative.format(Math.round(seconds), 'second')
}

function timeElement(iso: string, text: string): HTMLTimeElement {
  const node = make('time', { text })
  node.dateTime = iso
  node.title = absolute.format(new Date(iso))
  return node
}

function shortLinkFor(code: string): string {
  return `${location.origin}/r/${encodeURIComponent(code)}`
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    return false
  }
}

function start(): void {
  const form = element<HTMLFormElement>('create-form')
  const submit = element<HTMLButtonElement>('submit')
  const formError = element<HTMLParagraphElement>('form-error')
  const result = element<HTMLDivElement>('result')
  const list = element<HTMLUListElement>('recent')
  const listError = element<HTMLParagraphElement>('list-error')
  const listStatus = element<HTMLParagraphElement>('list-status')
  const more = element<HTMLButtonElement>('more')
  const refresh = element<HTMLButtonElement>('refresh')
  const inputs: Record<Field, HTMLInputElement> = {
    url: element('url'),
    alias: element('alias'),
    expiresAt: element('expiresAt'),
  }
  let nextCursor: string | null = null

  function clearErrors(): void {
    formError.textContent = ''
    for (const field of Object.keys(inputs) as Field[]) {
      inputs[field].removeAttribute('aria-invalid')
      const message = element<HTMLParagraphElement>(`${field}-error`)
      message.textContent = ''
      message.hidden = true
    }
  }

  function showFieldErrors(messages: Partial<Record<Field, string>>): void {
    const fields = Object.keys(messages) as Field[]
    for (const field of fields) {
      inputs[field].setAttribute('aria-invalid', 'true')
      const message = element<HTMLParagraphElement>(`${field}-error`)
      message.textContent = messages[field] ?? ''
      message.hidden = false
    }
    formError.textContent = fields.map((f) => `${fieldLabels[f]}: ${messages[f]}`).join(' ')
    inputs[fields[0] as Field]?.focus()
  }

  function showCreateError(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error)
    const fields = fieldMessages(error instanceof ApiError ? error.errors : [])
    if (Object.keys(fields).length > 0) showFieldErrors(fields)
    else formError.textContent = message
  }

  function showResult(created: CreatedUrl): void {
    const link = make('a', { text: created.shortUrl })
    link.href = created.shortUrl
    link.id = 'short-link'
    const copy = make('button', { className: 'secondary small', text: 'Copy' })
    copy.type = 'button'
    copy.id = 'copy'
    const copied = make('span', { className: 'copied' })
    copied.setAttribute('aria-live', 'polite')
    copy.addEventListener('click', async () => {
      copied.textContent = (await copyText(created.shortUrl))
        ? 'Copied to the clipboard.'
        : 'Copy failed: select the link and copy it yourself.'
    })
    const target = make('p', { className: 'hint', text: `Goes to ${created.url}` })
    const expiry = created.expiresAt
      ? make(
          'p',
          { className: 'hint' },
          'Expires ',
          timeElement(created.expiresAt, fromNow(created.expiresAt)),
        )
      : make('p', { className: 'hint', text: 'Never expires.' })
    result.replaceChildren(
      make('p', { text: 'Your short link is ready:' }),
      make('div', { className: 'short' }, link, copy, copied),
      target,
      expiry,
    )
    copy.focus()
  }

  function renderItem(item: UrlRecord): HTMLLIElement {
    const shortLink = shortLinkFor(item.code)
    const link = make('a', { className: 'code', text: shortLink.replace(/^https?:\/\//, '') })
    link.href = shortLink
    const copy = make('button', { className: 'secondary small', text: 'Copy' })
    copy.type = 'button'
    copy.setAttribute('aria-label', `Copy ${shortLink}`)
    copy.addEventListener('click', async () => {
      const ok = await copyText(shortLink)
      listStatus.textContent = ok ? `Copied ${shortLink}.` : 'Copy failed.'
    })
    const target = make('span', { className: 'target', text: item.url })
    target.title = item.url
    const clicks = make('span', {
      className: 'clicks',
      text: `${item.clicks} ${item.clicks === 1 ? 'click' : 'clicks'}`,
    })
    const created = make(
      'span',
      {},
      'created ',
      timeElement(item.createdAt, fromNow(item.createdAt)),
    )
    let expiry: HTMLSpanElement
    if (item.expiresAt === null) expiry = make('span', { text: 'never expires' })
    else if (Date.parse(item.expiresAt) <= Date.now())
      expiry = make(
        'span',
        { className: 'expired' },
        'expired ',
        timeElement(item.expiresAt, fromNow(item.expiresAt)),
      )
    else expiry = make('span', {}, 'expires ', timeElement(item.expiresAt, fromNow(item.expiresAt)))
    const meta = make('div', { className: 'meta' }, clicks, created, expiry)
    return make('li', {}, link, copy, target, meta)
  }

  async function loadRecent(append = false): Promise<void> {
    listError.textContent = ''
    const query = new URLSearchParams({ limit: String(pageSize) })
    if (append && nextCursor) query.set('cursor', nextCursor)
    try {
      const page = await api<UrlPage>(`/api/urls?${query}`)
      const rows = page.items.map(renderItem)
      if (append) list.append(...rows)
      else list.replaceChildren(...rows)
      nextCursor = page.nextCursor
      more.hidden = nextCursor === null
      listStatus.textContent = list.children.length === 0 ? 'No links yet.' : ''
    } catch (error) {
      listError.textContent = error instanceof Error ? error.message : String(error)
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    clearErrors()
    const body: Record<string, string> = { url: inputs.url.value.trim() }
    if (body.url === '') return showFieldErrors({ url: 'Enter the address to shorten.' })
    const alias = inputs.alias.value.trim()
    if (alias !== '') body.alias = alias
    if (inputs.expiresAt.value !== '') {
      // datetime-local is the reader's local time; the API wants an instant.
      const expires = new Date(inputs.expiresAt.value)
      if (Number.isNaN(expires.getTime())) {
        return showFieldErrors({ expiresAt: 'Enter a valid date and time.' })
      }
      body.expiresAt = expires.toISOString()
    }
    submit.disabled = true
    submit.textContent = 'Shortening…'
    try {
      const created = await api<CreatedUrl>('/api/urls', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      form.reset()
      showResult(created)
      await loadRecent()
    } catch (error) {
      showCreateError(error)
    } finally {
      submit.disabled = false
      submit.textContent = 'Shorten'
    }
  })

  refresh.addEventListener('click', () => loadRecent())
  more.addEventListener('click', () => loadRecent(true))
  void loadRecent()
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
else start()
