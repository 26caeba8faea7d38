import t from 'tap'
import {
  clickedEvent,
  createdEvent,
  referrerHost,
  UrlEvent,
  userAgentFamily,
} from '../../src/events/event.js'

const agents: Record<string, string> = {
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36':
    'chrome',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87':
    'edge',
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0': 'firefox',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15':
    'safari',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1':
    'chrome',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)': 'bot',
  'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36':
    'bot',
  'curl/8.5.0': 'bot',
  'Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 OPR/111.0':
    'other',
  'something else entirely': 'other',
}

t.test('user agents are reduced to a family', async (t) => {
  for (const [agent, family] of Object.entries(agents))
    t.equal(userAgentFamily(agent), family, agent)
  t.equal(userAgentFamily(undefined), 'other')
  t.equal(userAgentFamily(''), 'other')
})

t.test('only the referrer host is kept, and only from http(s) referrers', async (t) => {
  t.equal(referrerHost('https://News.Example.com:8443/a/b?q=secret#frag'), 'news.example.com')
  t.equal(referrerHost('http://user:pw@example.org/x'), 'example.org')
  t.equal(referrerHost('android-app://com.example/'), null)
  t.equal(referrerHost('not a url'), null)
  t.equal(referrerHost(undefined), null)
})

t.test('a click event carries no raw header values', async (t) => {
  const event = clickedEvent({
    code: 'abc123',
    referrer: 'https://news.example.com/story?session=s3cr3t',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    occurredAt: new Date('2026-01-02T03:04:05.000Z'),
  })
  t.match(event, {
    version: 1,
    type: 'url.clicked',
    code: 'abc123',
    occurredAt: '2026-01-02T03:04:05.000Z',
    referrerHost: 'news.example.com',
    userAgentFamily: 'firefox',
  })
  t.match(event.id, /^[0-9a-f-]{36}$/)
  const json = JSON.stringify(event)
  t.notMatch(json, /s3cr3t|Gecko|story/, 'no path, query or full user agent')
  t.same(Object.keys(event).sort(), [
    'code',
    'id',
    'occurredAt',
    'referrerHost',
    'type',
    'userAgentFamily',
    'version',
  ])
})

t.test('the schema accepts what the producer writes and rejects what it does not', async (t) => {
  t.ok(UrlEvent.safeParse(clickedEvent({ code: 'abc' })).success)
  t.ok(UrlEvent.safeParse(createdEvent({ code: 'abc' })).success)
  const good = createdEvent({ code: 'abc' })
  t.ok(
    UrlEvent.safeParse({ ...good, addedLater: true }).success,
    'unknown fields within version 1 are tolerated',
  )
  t.notOk(UrlEvent.safeParse({ ...good, version: 2 }).success, 'another version')
  t.notOk(UrlEvent.safeParse({ ...good, id: 'not-a-uuid' }).success, 'bad id')
  t.notOk(UrlEvent.safeParse({ ...good, type: 'url.deleted' }).success, 'unknown type')
  t.notOk(UrlEvent.safeParse({ ...good, code: '../etc' }).success, 'bad code')
  t.notOk(
    UrlEvent.safeParse({ ...clickedEvent({ code: 'abc' }), userAgentFamily: 'Mozilla/5.0' })
      .success,
    'a raw user agent',
  )
})
