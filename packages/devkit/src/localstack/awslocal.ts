#!/usr/bin/env node
/**
 * `awslocal` for the LocalStack stand-in: the subset of the AWS CLI that
 * compose/localstack/init-aws.sh uses, so the real hook runs unchanged.
 *
 *   awslocal <secretsmanager|sqs> <operation> [--param value ...]
 *            [--query A.B] [--output json|text]
 *
 * Each --kebab-case option becomes the PascalCase API parameter; maps
 * (--attributes, --tags) are JSON or CLI shorthand (K=V,K2=V2), lists
 * (--attribute-names) JSON or one value, everything else a string. Requests go to AWS_ENDPOINT_URL with
 * the JSON protocol and a SigV4-shaped header (the stand-in checks none).
 * Exit codes follow the CLI: 254 for a service error, 252 for bad usage.
 */

const targets: Record<string, { prefix: string; contentType: string; signing: string }> = {
  secretsmanager: {
    prefix: 'secretsmanager',
    contentType: 'application/x-amz-json-1.1',
    signing: 'secretsmanager',
  },
  sqs: { prefix: 'AmazonSQS', contentType: 'application/x-amz-json-1.0', signing: 'sqs' },
}

const pascal = (kebab: string) =>
  kebab
    .split('-')
    .map((part) => (part[0] ?? '').toUpperCase() + part.slice(1))
    .join('')

/** K=V,K2=V2 shorthand into an object. */
function shorthand(value: string): Record<string, string> {
  return Object.fromEntries(
    value.split(',').map((pair) => {
      const at = pair.indexOf('=')
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  )
}

/** Maps (JSON or K=V shorthand) and lists (JSON or one value); every other parameter stays a string, as the CLI's model says. */
function parseValue(name: string, value: string): unknown {
  const trimmed = value.trim()
  if (name === 'Attributes' || name === 'Tags') {
    return trimmed.startsWith('{') ? JSON.parse(trimmed) : shorthand(value)
  }
  if (name.endsWith('Names')) return trimmed.startsWith('[') ? JSON.parse(trimmed) : [value]
  return value
}

function usage(message: string): never {
  process.stderr.write(`awslocal: ${message}\n`)
  process.exit(252)
}

export async function main(argv: string[]): Promise<number> {
  const [service, operation, ...rest] = argv
  const target = targets[service ?? '']
  if (!target || !operation) usage('usage: awslocal <secretsmanager|sqs> <operation> [--options]')
  const input: Record<string, unknown> = {}
  let query: string | undefined
  let output = 'json'
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] ?? ''
    if (!flag.startsWith('--')) usage(`unexpected argument ${flag}`)
    const value = rest[i + 1]
    if (value === undefined) usage(`${flag} needs a value`)
    i++
    if (flag === '--query') query = value
    else if (flag === '--output') output = value
    else if (flag === '--region' || flag === '--endpoint-url') continue
    else input[pascal(flag.slice(2))] = parseValue(pascal(flag.slice(2)), value)
  }
  const endpoint = process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566'
  const region = process.env.AWS_DEFAULT_REGION ?? process.env.AWS_REGION ?? 'us-east-1'
  const date = new Date().toISOString().replace(/[-:]/g, '').slice(0, 8)
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': target.contentType,
      'x-amz-target': `${target.prefix}.${pascal(operation)}`,
      authorization: `AWS4-HMAC-SHA256 Credential=test/${date}/${region}/${target.signing}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(input),
  })
  const text = await response.text()
  let body: unknown
  try {
    body = text ? JSON.parse(text) : {}
  } catch {
    body = text
  }
  if (!response.ok) {
    const error = body as { __type?: string; message?: string; Message?: string }
    process.stderr.write(
      `An error occurred (${String(error.__type ?? response.status)
        .split('#')
        .at(
          -1,
        )}) when calling the ${pascal(operation)} operation: ${error.message ?? error.Message ?? text}\n`,
    )
    return 254
  }
  let result: unknown = body
  for (const key of query ? query.split('.') : []) {
    result =
      result !== null && typeof result === 'object'
        ? (result as Record<string, unknown>)[key]
        : undefined
  }
  if (output === 'text' && (typeof result === 'string' || typeof result === 'number')) {
    process.stdout.write(`${result}\n`)
  } else if (output === 'text' && result === undefined) {
    process.stdout.write('None\n')
  } else {
    process.stdout.write(`${JSON.stringify(result, null, 4)}\n`)
  }
  return 0
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2))
}
