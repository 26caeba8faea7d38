/**
 * Lesson 5, data access: the database login lives in Secrets Manager and is
 * rotated; a copy someone took before a rotation stops working, while
 * url-service follows the rotation without a restart (its 28P01 refresh).
 * Rolling the rotation back (a real change to the secret and the role)
 * makes the leaked copy work again. Then the seed article's string-built
 * connection URI meets a generated password with `@:/?#`.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager'
import { generatePassword } from '@zt/devkit'
import pg from 'pg'
import { call } from '../http.js'
import { indent, type Lesson, type LessonContext, LessonFailure } from './runner.js'

interface DbSecret {
  engine: string
  host: string
  port: number
  username: string
  password: string
  dbname: string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const mask = (password: string) => `${password.slice(0, 4)}…(${password.length} characters)`

/** Logs in with discrete fields; returns "logged in" or the server's refusal. */
async function logIn(fields: pg.ClientConfig): Promise<string> {
  let client: pg.Client | undefined
  try {
    // The constructor parses a connectionString and may throw.
    client = new pg.Client({ ...fields, connectionTimeoutMillis: 3000 })
    await client.connect()
    const { rows } = await client.query<{ user: string }>('select current_user as user')
    return `logged in as ${rows[0]?.user}`
  } catch (error) {
    const code = (error as { code?: string }).code
    return `failed: ${error instanceof Error ? error.message : String(error)}${code ? ` (${code})` : ''}`
  } finally {
    await client?.end().catch(() => undefined)
  }
}

export const dataAccess: Lesson = {
  n: 5,
  layer: 'data access',
  title: 'database credentials from Secrets Manager, rotated under a running service',
  blurb:
    'a leaked database password stops working after rotation, works again when rotation is rolled back; why the seed URI breaks',
  needsStack: true,
  async start(context: LessonContext) {
    const stack = context.stack
    if (!stack) throw new Error('lesson 5 needs the local stack')
    const { say } = context
    const secrets = new SecretsManagerClient({
      region: 'us-east-1',
      endpoint: stack.secretsManager.url,
      credentials: { accessKeyId: 'local-dev-only', secretAccessKey: 'local-dev-only' },
    })
    const admin = new pg.Client({ connectionString: stack.adminDatabaseUrl })
    // The stack may stop PostgreSQL under this client; an 'error' event without a listener would crash.
    admin.on('error', () => undefined)
    await admin.connect()
    const SecretId = stack.databaseSecretArn
    const read = async () => {
      const value = await secrets.send(new GetSecretValueCommand({ SecretId }))
      return {
        secret: JSON.parse(value.SecretString ?? '') as DbSecret,
        versionId: value.VersionId,
      }
    }
    const fields = (password: string, secret: DbSecret) => ({
      host: secret.host,
      port: secret.port,
      user: secret.username,
      password,
      database: secret.dbname,
    })
    const psql = (secret: DbSecret, password: string) =>
      `PGPASSWORD='${mask(password)}' psql "host=${secret.host} port=${secret.port} user=${secret.username} dbname=${secret.dbname}" -c 'select current_user'`

    /** One read through the gateway (and url-service, and its database login). */
    const serviceReads = async (): Promise<string> => {
      const answer = await call(`${stack.apiGatewayUrl}/api/urls?limit=1`, { timeoutMs: 15_000 })
      return `HTTP ${answer.status}`
    }

    /**
     * Rotates to `password` as the single-user rotation function does: the
     * new value under AWSPENDING, ALTER ROLE, a test login, then AWSCURRENT
     * moved. A request in the window meets a refused login in url-service.
     */
    const rotate = async (password: string, narrate: boolean) => {
      const current = await read()
      const token = randomUUID()
      const mark = stack.logs.length
      await secrets.send(
        new PutSecretValueCommand({
          SecretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify({ ...current.secret, password }),
          VersionStages: ['AWSPENDING'],
        }),
      )
      await admin.query(`alter role ${stack.appUser} password ${admin.escapeLiteral(password)}`)
      const tested = await logIn(fields(password, current.secret))
      if (!tested.startsWith('logged in')) throw new Error(`testSecret failed: ${tested}`)
      // A request while the database already has the new password and the secret still the old one.
      await sleep(1500) // the pool's connections (1 s lifetime) are gone; the next one logs in anew
      const during = serviceReads()
      await sleep(300)
      await secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: current.versionId,
        }),
      )
      const status = await during
      if (narrate) {
        context.show(
          [
            `aws secretsmanager put-secret-value --secret-id ${SecretId} --client-request-token ${token.slice(0, 8)}… --version-stages AWSPENDING --secret-string '{…"password":"${mask(password)}"}'`,
            `psql -c "ALTER ROLE ${stack.appUser} PASSWORD '…'"      # setSecret: the database now refuses the old password`,
            `${psql(current.secret, password)}   # testSecret: ${tested}`,
            `curl ${stack.apiGatewayUrl}/api/urls?limit=1   # a request in the window -> ${status}`,
            `aws secretsmanager update-secret-version-stage --secret-id ${SecretId} --version-stage AWSCURRENT --move-to-version-id ${token.slice(0, 8)}… --remove-from-version-id ${current.versionId?.slice(0, 8)}…`,
          ].join('\n  $ '),
          'url-service log, meanwhile:\n' +
            indent(
              stack
                .linesSince(mark, 'url-service')
                .filter((line) => /password|secret|28P01/i.test(line))
                .slice(0, 4)
                .join('\n') || '(no line)',
              '  ',
            ),
        )
      }
      if (status !== 'HTTP 200')
        throw new LessonFailure('setup', `url-service did not follow the rotation: ${status}`)
      return stack
        .linesSince(mark, 'url-service')
        .some((line) => line.includes('database rejected the password'))
    }

    say(
      'url-service, the worker and the migrations never see a password in their configuration: they get\n' +
        'DB_SECRET_ARN and read the login from Secrets Manager at run time (here the local Secrets\n' +
        'Manager of the stack, through the real AWS SDK):',
    )
    const initial = await read()
    context.show(
      `aws secretsmanager get-secret-value --secret-id ${SecretId} --query SecretString`,
      JSON.stringify({ ...initial.secret, password: mask(initial.secret.password) }),
    )
    const leaked = initial.secret.password
    say(
      'Suppose this password leaks today: a debug log, a laptop, a CI variable. Right now it works:',
    )
    context.show(psql(initial.secret, leaked), await logIn(fields(leaked, initial.secret)))
    say(
      '\nThe control is rotation. Rotate by hand, step by step as the Secrets Manager single-user\n' +
        'rotation function does, with a request arriving in the window between ALTER ROLE and the\n' +
        'secret moving to the new version:',
    )
    const refreshed = await rotate(generatePassword(), true)
    say(
      refreshed
        ? '   url-service met the refused login (28P01), fetched the secret again and retried: the request\n' +
            '   succeeded and nothing restarted.'
        : '   (this time url-service did not need a new login inside the window; it follows the new secret all the same)',
    )

    const attack = async () => {
      const current = (await read()).secret
      const result = await logIn(fields(leaked, current))
      context.show(`${psql(current, leaked)}   # the leaked copy`, result)
      const service = await serviceReads()
      context.show(
        `curl ${stack.apiGatewayUrl}/api/urls?limit=1   # the service meanwhile`,
        service,
      )
      if (service !== 'HTTP 200')
        throw new LessonFailure('setup', `url-service stopped serving: ${service}`)
      if (result.startsWith('logged in')) return false
      if (!result.includes('28P01'))
        throw new LessonFailure('setup', `the login failed for another reason: ${result}`)
      return true
    }

    return {
      attackName: 'log in with the password that leaked before the rotation',
      attack,
      async remove() {
        say(
          'Roll the rotation back, as when a rotation is reverted or the secret is restored from an old\n' +
            'copy: the leaked value becomes the current secret and the role password again.',
        )
        const current = await read()
        const token = randomUUID()
        await secrets.send(
          new PutSecretValueCommand({
            SecretId,
            ClientRequestToken: token,
            SecretString: JSON.stringify({ ...current.secret, password: leaked }),
          }),
        )
        await admin.query(`alter role ${stack.appUser} password ${admin.escapeLiteral(leaked)}`)
        context.show(
          `aws secretsmanager put-secret-value --secret-id ${SecretId} --secret-string '{…"password":"${mask(leaked)}"}'\n` +
            `  $ psql -c "ALTER ROLE ${stack.appUser} PASSWORD '${mask(leaked)}'"`,
          'done (url-service follows this change too, through the same refresh)',
        )
      },
      async restore() {
        say('Rotate again:')
        await rotate(generatePassword(), true)
      },
      async after() {
        say(
          "\n== 6. Why url-service passes the login as discrete fields, not the seed's connection URI\n" +
            "Secrets Manager's generator (GetRandomPassword) includes punctuation unless told not to. Rotate to a password with @ : / ? #:",
        )
        const tricky = `p@ss:w/rd?${randomBytes(4).toString('hex')}#x`
        await rotate(tricky, false)
        say('(rotated with the same four steps as above)')
        const secret = (await read()).secret
        // What the seed does: fmt.Sprintf("postgres://%s:%s@%s:%d/%s", user, password, host, port, db).
        const uri = `postgres://${secret.username}:${secret.password}@${secret.host}:${secret.port}/${secret.dbname}`
        context.show(
          `aws secretsmanager get-secret-value --secret-id ${SecretId} --query SecretString`,
          JSON.stringify(secret),
        )
        say('Built as the seed builds it, the URI is:')
        context.show(`echo "${uri}"`, uri)
        const parse = (text: string) => {
          try {
            const url = new URL(text)
            return `user=${JSON.stringify(url.username)} password=${JSON.stringify(url.password)} host=${JSON.stringify(url.hostname)} port=${JSON.stringify(url.port)} path=${JSON.stringify(url.pathname)} query=${JSON.stringify(url.search)} fragment=${JSON.stringify(url.hash)}`
          } catch (error) {
            return `${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`
          }
        }
        context.show(`node -e 'console.log(new URL(process.argv[1]))' "${uri}"`, parse(uri))
        // pg parses a connectionString with the same WHATWG URL parser (pg-connection-string).
        const viaUri = await logIn({ connectionString: uri })
        context.show(`node -e 'new pg.Client({ connectionString: uri }).connect()'`, viaUri)
        const other = `postgres://${secret.username}:p@ss/w?rd#1@${secret.host}:${secret.port}/${secret.dbname}`
        say(
          'With a slightly different password, p@ss/w?rd#1, the URI parses, and is misread instead:',
        )
        context.show(`node -e 'console.log(new URL(process.argv[1]))' "${other}"`, parse(other))
        say(
          '   the password is "p", the host is "ss", the rest is a path, a query and a fragment: a client\n' +
            '   would send user zt_app and password "p" to a machine called ss.',
        )
        const viaFields = await logIn(fields(secret.password, secret))
        context.show(
          `node -e 'new pg.Client({ host, port, user, password, database }).connect()'   # what url-service does`,
          viaFields,
        )
        const service = await serviceReads()
        context.show(
          `curl ${stack.apiGatewayUrl}/api/urls?limit=1   # url-service, on this password`,
          service,
        )
        if (viaUri.startsWith('logged in'))
          throw new LessonFailure(
            'after',
            'the string-built URI logged in; the lesson expected it to fail',
          )
        if (!viaFields.startsWith('logged in') || service !== 'HTTP 200')
          throw new LessonFailure(
            'after',
            `discrete fields did not log in: ${viaFields}, ${service}`,
          )
        say(
          'The URI reads part of the password as the host (or fails to parse); discrete fields need no\n' +
            'encoding at all. docs/database.md has the rest: TLS verify-full, and why a connectionString\n' +
            "silently overrides pg's ssl object.",
        )
      },
      async close() {
        secrets.destroy()
        await admin.end()
      },
    }
  },
}
