import { randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { requestListener } from './request-listener.js'

/**
 * The part of AWS Secrets Manager that database credentials and their
 * rotation use, on loopback: CreateSecret, DescribeSecret, GetSecretValue,
 * PutSecretValue and UpdateSecretVersionStage over the JSON 1.1 protocol,
 * with version stages (AWSCURRENT, AWSPENDING, AWSPREVIOUS) as the service
 * keeps them. The SDK reaches it through AWS_ENDPOINT_URL_SECRETS_MANAGER.
 * LocalStack plays this part under docker compose; it needs a container
 * engine, which `pnpm dev` and CI do without.
 */

const current = 'AWSCURRENT'
const previous = 'AWSPREVIOUS'
const region = 'us-east-1'
const account = '000000000000'

interface Version {
  readonly id: string
  readonly secretString: string
  readonly created: number
  readonly stages: Set<string>
}

interface Secret {
  readonly arn: string
  readonly name: string
  readonly versions: Version[]
}

export interface RecordedRequest {
  /** The operation, e.g. GetSecretValue. */
  operation: string
  headers: IncomingHttpHeaders
  body: Record<string, unknown>
}

export interface Answer {
  status: number
  body: Record<string, unknown>
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message)
  }
}

/** Secrets and their versions, answering Secrets Manager operations. */
export class SecretsStore {
  readonly #secrets = new Map<string, Secret>()

  /**
   * Arranges a secret directly: creates it, or makes `secretString` its new
   * AWSCURRENT version. `secretId` may be a name or a full ARN. Returns the ARN.
   */
  set(secretId: string, secretString: string): string {
    const existing = this.#find(secretId, false)
    if (existing) {
      this.#put(existing, randomUUID(), secretString, [current])
      return existing.arn
    }
    const arn = secretId.startsWith('arn:') ? secretId : arnOf(secretId)
    const name = secretId.startsWith('arn:')
      ? secretId.slice(secretId.indexOf(':secret:') + 8)
      : secretId
    const secret: Secret = { arn, name, versions: [] }
    this.#secrets.set(arn, secret)
    this.#put(secret, randomUUID(), secretString, [current])
    return arn
  }

  /** Answers one operation (the X-Amz-Target suffix) as the service would. */
  handle(operation: string, input: Record<string, unknown>): Answer {
    try {
      return { status: 200, body: this.#operate(operation, input) }
    } catch (error) {
      if (!(error instanceof AwsError)) throw error
      return { status: 400, body: { __type: error.type, message: error.message } }
    }
  }

  #operate(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'CreateSecret': {
        const name = text(input, 'Name')
        if (this.#find(name, false)) {
          throw new AwsError('ResourceExistsException', `The secret ${name} already exists.`)
        }
        const arn = this.set(name, text(input, 'SecretString'))
        const secret = this.#find(arn)
        return { ARN: arn, Name: name, VersionId: secret.versions.at(-1)?.id }
      }
      case 'DescribeSecret': {
        const secret = this.#find(text(input, 'SecretId'))
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionIdsToStages: Object.fromEntries(
            secret.versions.filter((v) => v.stages.size > 0).map((v) => [v.id, [...v.stages]]),
          ),
        }
      }
      case 'GetSecretValue': {
        const secret = this.#find(text(input, 'SecretId'))
        const versionId = optionalText(input, 'VersionId')
        const stage = optionalText(input, 'VersionStage') ?? (versionId ? undefined : current)
        const version = secret.versions.find(
          (v) => (versionId === undefined || v.id === versionId) && (!stage || v.stages.has(stage)),
        )
        if (!version) {
          throw new AwsError(
            'ResourceNotFoundException',
            "Secrets Manager can't find the specified secret value for the version or staging label.",
          )
        }
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: version.id,
          SecretString: version.secretString,
          VersionStages: [...version.stages],
          CreatedDate: version.created / 1000,
        }
      }
      case 'PutSecretValue': {
        const secret = this.#find(text(input, 'SecretId'))
        const stages = Array.isArray(input.VersionStages)
          ? input.VersionStages.filter((s): s is string => typeof s === 'string')
          : [current]
        const version = this.#put(
          secret,
          optionalText(input, 'ClientRequestToken') ?? randomUUID(),
          text(input, 'SecretString'),
          stages,
        )
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: version.id,
          VersionStages: [...version.stages],
        }
      }
      case 'UpdateSecretVersionStage': {
        const secret = this.#find(text(input, 'SecretId'))
        const stage = text(input, 'VersionStage')
        const from = optionalText(input, 'RemoveFromVersionId')
        const to = optionalText(input, 'MoveToVersionId')
        const holder = secret.versions.find((v) => v.stages.has(stage))
        if (holder && to && holder.id !== to && holder.id !== from) {
          throw new AwsError(
            'InvalidParameterException',
            `The staging label ${stage} is attached to version ${holder.id}; name it in RemoveFromVersionId.`,
          )
        }
        const target = to ? secret.versions.find((v) => v.id === to) : undefined
        if (to && !target) {
          throw new AwsError('ResourceNotFoundException', `No version ${to} in this secret.`)
        }
        // Labelling the target takes the stage from its holder (and leaves
        // AWSPREVIOUS behind for AWSCURRENT); without a target it is removed.
        if (target) this.#label(secret, target, stage)
        else if (from) secret.versions.find((v) => v.id === from)?.stages.delete(stage)
        return { ARN: secret.arn, Name: secret.name }
      }
      default:
        throw new AwsError(
          'UnknownOperationException',
          `Operation ${operation} is not supported here.`,
        )
    }
  }

  #find(secretId: string): Secret
  #find(secretId: string, required: false): Secret | undefined
  #find(secretId: string, required = true): Secret | undefined {
    const secret =
      this.#secrets.get(secretId) ??
      [...this.#secrets.values()].find((s) => s.name === secretId || s.arn === arnOf(secretId))
    if (!secret && required) {
      throw new AwsError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      )
    }
    return secret
  }

  #put(secret: Secret, id: string, secretString: string, stages: string[]): Version {
    const existing = secret.versions.find((v) => v.id === id)
    if (existing && existing.secretString !== secretString) {
      throw new AwsError(
        'ResourceExistsException',
        `Version ${id} already exists with another value.`,
      )
    }
    const version = existing ?? { id, secretString, created: Date.now(), stages: new Set<string>() }
    if (!existing) secret.versions.push(version)
    for (const stage of stages) this.#label(secret, version, stage)
    return version
  }

  /** Stages are unique within a secret; moving AWSCURRENT leaves AWSPREVIOUS behind. */
  #label(secret: Secret, version: Version, stage: string): void {
    for (const other of secret.versions) {
      if (other === version || !other.stages.has(stage)) continue
      other.stages.delete(stage)
      if (stage === current) {
        for (const v of secret.versions) v.stages.delete(previous)
        other.stages.add(previous)
      }
    }
    version.stages.add(stage)
    if (stage === current) version.stages.delete(previous)
  }
}

function arnOf(name: string): string {
  return `arn:aws:secretsmanager:${region}:${account}:secret:${name}`
}

function optionalText(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field]
  return typeof value === 'string' && value !== '' ? value : undefined
}

function text(input: Record<string, unknown>, field: string): string {
  const value = optionalText(input, field)
  if (value === undefined) {
    throw new AwsError('InvalidParameterException', `${field} is required.`)
  }
  return value
}

export interface LocalSecretsManager {
  /** The endpoint for AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  readonly url: string
  readonly store: SecretsStore
  /** Every request received, in order. */
  readonly requests: RecordedRequest[]
  close(): Promise<void>
}

/**
 * Parses a Secrets Manager request, or returns undefined when the request
 * is for another service (a caller may serve several on one port).
 */
export function readSecretsManagerRequest(
  target: string | string[] | undefined,
  body: string,
): { operation: string; input: Record<string, unknown> } | undefined {
  if (typeof target !== 'string' || !target.startsWith('secretsmanager.')) return undefined
  let input: unknown
  try {
    input = JSON.parse(body)
  } catch {
    input = undefined
  }
  return {
    operation: target.slice('secretsmanager.'.length),
    input: input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {},
  }
}

/** Starts the endpoint on loopback (`port` 0 or unset: kernel-chosen). */
export async function startLocalSecretsManager(
  options: { port?: number; store?: SecretsStore } = {},
): Promise<LocalSecretsManager> {
  const store = options.store ?? new SecretsStore()
  const requests: RecordedRequest[] = []
  const server = createServer(
    requestListener((req, res, body) => {
      const request = readSecretsManagerRequest(req.headers['x-amz-target'], body.toString('utf8'))
      res.setHeader('content-type', 'application/x-amz-json-1.1')
      let answer: Answer
      if (!request) {
        answer = {
          status: 400,
          body: { __type: 'UnknownOperationException', message: 'not a Secrets Manager request' },
        }
      } else if (
        !String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 Credential=')
      ) {
        // Any signature is accepted, but an unsigned request is refused as AWS does.
        answer = {
          status: 400,
          body: {
            __type: 'MissingAuthenticationTokenException',
            message: 'Missing Authentication Token',
          },
        }
      } else {
        requests.push({ operation: request.operation, headers: req.headers, body: request.input })
        answer = store.handle(request.operation, request.input)
      }
      res.statusCode = answer.status
      res.end(JSON.stringify(answer.body))
    }),
  )
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A password of 32 URL-safe characters, as a rotation function would generate. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url')
}
