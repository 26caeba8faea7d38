/**
 * Lesson 4, data at rest: envelope encryption of Kubernetes Secrets, made
 * visible with node:crypto. A model KMS holds the key-encryption key (KEK)
 * and never hands it out; a model API server writes each Secret with a fresh
 * data key (DEK) wrapped by the KEK, exactly as its EncryptionConfiguration
 * says. The attack is a leaked etcd snapshot. This is a model of
 * kube-apiserver and AWS KMS, run in this process: nothing here talks to AWS.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto'
import { parse, stringify } from 'yaml'
import { type Lesson, type LessonContext, LessonFailure } from './runner.js'

type KeyState = 'Enabled' | 'Disabled' | 'Destroyed'

/** AES-256-GCM: iv (12) | tag (16) | ciphertext. */
function seal(key: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body])
}

function open(key: Buffer, sealed: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12))
  decipher.setAuthTag(sealed.subarray(12, 28))
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()])
}

/**
 * The parts of AWS KMS envelope encryption uses: GenerateDataKey, Decrypt,
 * DisableKey/EnableKey, and deletion (ScheduleKeyDeletion, after its waiting
 * period). The key material stays inside; a wrapped data key names its KEK.
 */
export class ModelKms {
  readonly #keys = new Map<string, { material: Buffer | undefined; state: KeyState }>()

  createKey(): string {
    const keyId = randomUUID()
    this.#keys.set(keyId, { material: randomBytes(32), state: 'Enabled' })
    return keyId
  }

  #usable(keyId: string): Buffer {
    const key = this.#keys.get(keyId)
    if (!key) throw new Error(`NotFoundException: key ${keyId} does not exist`)
    if (key.state === 'Disabled') throw new Error(`DisabledException: key ${keyId} is disabled`)
    if (key.state === 'Destroyed' || !key.material)
      throw new Error(`NotFoundException: key ${keyId} has been deleted; its material is gone`)
    return key.material
  }

  /** A fresh 256-bit data key, in plaintext (use, then forget) and wrapped by the KEK (store). */
  generateDataKey(keyId: string): { plaintext: Buffer; ciphertextBlob: Buffer } {
    const plaintext = randomBytes(32)
    const wrapped = seal(this.#usable(keyId), plaintext)
    return { plaintext, ciphertextBlob: Buffer.concat([Buffer.from(`${keyId}:`), wrapped]) }
  }

  decrypt(ciphertextBlob: Buffer): Buffer {
    const colon = ciphertextBlob.indexOf(':')
    const keyId = ciphertextBlob.subarray(0, colon).toString()
    return open(this.#usable(keyId), ciphertextBlob.subarray(colon + 1))
  }

  setState(keyId: string, state: KeyState): void {
    const key = this.#keys.get(keyId)
    if (!key) throw new Error(`NotFoundException: key ${keyId} does not exist`)
    key.state = state
    if (state === 'Destroyed') {
      key.material?.fill(0)
      key.material = undefined
    }
  }
}

interface Provider {
  kms?: { apiVersion?: string; name: string; endpoint?: string; timeout?: string }
  identity?: Record<string, never>
}

interface EncryptionConfiguration {
  apiVersion: string
  kind: 'EncryptionConfiguration'
  resources: { resources: string[]; providers: Provider[] }[]
}

/**
 * An EncryptionConfiguration for Secrets as kube-apiserver reads it. The key
 * is not in it: the KMS plugin behind the socket knows which key it uses.
 */
export function encryptionConfiguration(first: 'kms' | 'identity'): string {
  const kms: Provider = {
    kms: {
      apiVersion: 'v2',
      name: 'aws-encryption-provider',
      endpoint: 'unix:///var/run/kmsplugin/socket.sock',
      timeout: '3s',
    },
  }
  const identity: Provider = { identity: {} }
  const config: EncryptionConfiguration = {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [
      { resources: ['secrets'], providers: first === 'kms' ? [kms, identity] : [identity, kms] },
    ],
  }
  return stringify(config)
}

const kmsPrefix = (name: string) => `k8s:enc:kms:v2:${name}:`

/**
 * kube-apiserver's storage of Secrets: writes with the FIRST provider of
 * its EncryptionConfiguration; reads whatever a stored value's prefix says,
 * with any configured provider (so changing the order never strands data).
 */
export class ModelApiServer {
  readonly etcd = new Map<string, Buffer>()
  #providers: Provider[] = []

  constructor(
    readonly kms: ModelKms,
    /** The key the KMS plugin was started with (aws-encryption-provider --key=<arn>). */
    readonly pluginKeyId: string,
    configYaml: string,
  ) {
    this.configure(configYaml)
  }

  /** Loads a new EncryptionConfiguration, as an API server restart with --encryption-provider-config does. */
  configure(configYaml: string): void {
    const config = parse(configYaml) as EncryptionConfiguration
    const forSecrets = config.resources.find((r) => r.resources.includes('secrets'))
    this.#providers = forSecrets?.providers ?? [{ identity: {} }]
  }

  writeSecret(namespace: string, name: string, data: Record<string, string>): void {
    const object = Buffer.from(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace },
        data: Object.fromEntries(
          Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
      }),
    )
    const provider = this.#providers[0]
    const key = `/registry/secrets/${namespace}/${name}`
    if (provider?.kms) {
      const dek = this.kms.generateDataKey(this.pluginKeyId)
      const stored = {
        encryptedDEK: dek.ciphertextBlob.toString('base64'),
        ciphertext: seal(dek.plaintext, object).toString('base64'),
      }
      dek.plaintext.fill(0)
      this.etcd.set(key, Buffer.from(`${kmsPrefix(provider.kms.name)}${JSON.stringify(stored)}`))
    } else {
      this.etcd.set(key, object)
    }
  }

  /** What `kubectl get secret` returns to anyone RBAC lets read it: the plaintext. */
  readSecret(namespace: string, name: string): Record<string, string> {
    const value = this.etcd.get(`/registry/secrets/${namespace}/${name}`)
    if (!value) throw new Error(`secrets "${name}" not found`)
    const text = value.toString()
    let object: { data: Record<string, string> }
    if (text.startsWith('k8s:enc:kms:v2:')) {
      const name = text.slice('k8s:enc:kms:v2:'.length).split(':', 1)[0] ?? ''
      if (!this.#providers.some((p) => p.kms?.name === name))
        throw new Error(`no configured provider can read ${kmsPrefix(name)}`)
      const stored = JSON.parse(text.slice(kmsPrefix(name).length)) as {
        encryptedDEK: string
        ciphertext: string
      }
      const dek = this.kms.decrypt(Buffer.from(stored.encryptedDEK, 'base64'))
      object = JSON.parse(open(dek, Buffer.from(stored.ciphertext, 'base64')).toString())
    } else {
      object = JSON.parse(text)
    }
    return Object.fromEntries(
      Object.entries(object.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
    )
  }

  /** `etcdctl snapshot restore`: the stored values of a snapshot, as they were. */
  restoreSnapshot(snapshot: Map<string, Buffer>): void {
    this.etcd.clear()
    for (const [k, v] of snapshot) this.etcd.set(k, Buffer.from(v))
  }

  /** `etcdctl snapshot save`: a copy of every stored value, as it is on disk. */
  snapshot(): Map<string, Buffer> {
    return new Map([...this.etcd].map(([k, v]) => [k, Buffer.from(v)]))
  }
}

/** The attacker's search of a snapshot: the password, raw or base64 as a Secret's data holds it. */
export function leaks(snapshot: Map<string, Buffer>, secret: string): string | undefined {
  const needles = [secret, Buffer.from(secret).toString('base64')]
  for (const [key, value] of snapshot) {
    const text = value.toString('latin1')
    if (needles.some((needle) => text.includes(needle))) return key
  }
  return undefined
}

function preview(value: Buffer | undefined, length = 110): string {
  if (!value) return '(missing)'
  const text = value.toString('latin1')
  return text.length > length ? `${text.slice(0, length)}…` : text
}

export const dataAtRest: Lesson = {
  n: 4,
  layer: 'data at rest',
  title: 'envelope encryption of Secrets, and crypto-shredding',
  blurb:
    'a leaked etcd snapshot is ciphertext; with the API server writing plaintext it is not; then the key is destroyed (no stack)',
  needsStack: false,
  async start(context: LessonContext) {
    const say = context.say
    say(
      'This lesson is a MODEL run in this process with node:crypto: a small KMS that keeps its key,\n' +
        "and kube-apiserver's Secret storage driven by a real EncryptionConfiguration document.\n" +
        'Nothing talks to AWS or to a cluster; the mapping to EKS is printed at the end.',
    )
    const kms = new ModelKms()
    const kek = kms.createKey()
    say(
      `\nThe key-encryption key (KEK) lives in KMS: key ${kek}. It never leaves; callers ask KMS to\n` +
        'generate a data key (DEK) and get it twice: in plaintext, to encrypt with and then forget,\n' +
        'and wrapped (encrypted under the KEK), to store next to the data.',
    )
    const dek = kms.generateDataKey(kek)
    context.show(
      `aws kms generate-data-key --key-id ${kek} --key-spec AES_256   # (model)`,
      `Plaintext:      ${dek.plaintext.toString('base64')}   (use, then forget)\n` +
        `CiphertextBlob: ${dek.ciphertextBlob.subarray(37).toString('base64')}   (store this)`,
    )
    dek.plaintext.fill(0)

    const config = encryptionConfiguration('kms')
    say(
      '\nThe API server is configured to write Secrets with KMS v2, identity (plaintext) only to read old data:',
    )
    context.show('cat /etc/kubernetes/encryption-config.yaml   # what EKS manages for you', config)
    const apiServer = new ModelApiServer(kms, kek, config)
    const password = `s3cr3t-${randomBytes(9).toString('base64url')}`
    apiServer.writeSecret('services', 'db-login', { username: 'zt_app', password })
    say(`A Secret services/db-login is created with password ${password}. In etcd it is stored as:`)
    context.show(
      'etcdctl get /registry/secrets/services/db-login --print-value-only',
      preview(apiServer.etcd.get('/registry/secrets/services/db-login')),
    )

    let snapshots = 0
    return {
      attackName: 'a leaked etcd snapshot, searched for the password',
      async attack() {
        const snapshot = apiServer.snapshot()
        snapshots++
        context.show(
          `etcdctl snapshot save leaked-${snapshots}.db && strings leaked-${snapshots}.db | grep -e '${password.slice(0, 10)}' -e <its base64>`,
          `${preview(snapshot.get('/registry/secrets/services/db-login'))}\n` +
            (leaks(snapshot, password)
              ? `FOUND: ${password}`
              : '(no match: only a wrapped data key and AES-GCM ciphertext)'),
        )
        return leaks(snapshot, password) === undefined
      },
      async remove() {
        say(
          'A real configuration change: identity (no encryption) moves to the top of the provider list,\n' +
            'the API server restarts with it, and the next write of the Secret is stored as it is.',
        )
        const weakened = encryptionConfiguration('identity')
        context.show('cat /etc/kubernetes/encryption-config.yaml', weakened)
        apiServer.configure(weakened)
        apiServer.writeSecret('services', 'db-login', { username: 'zt_app', password })
        context.show(
          'kubectl -n services create secret generic db-login ... --dry-run=client -o yaml | kubectl replace -f -',
          'secret/db-login replaced',
        )
      },
      async restore() {
        say(
          'KMS goes back to the top, the API server restarts, and every Secret is rewritten so that\n' +
            'the new first provider re-encrypts it (the documented step after changing providers).',
        )
        apiServer.configure(config)
        apiServer.writeSecret('services', 'db-login', { username: 'zt_app', password })
        context.show(
          'kubectl get secrets -A -o json | kubectl replace -f -',
          'secret/db-login replaced',
        )
        say(
          'Note: leaked-2.db, taken while the control was off, still holds the plaintext, and etcd keeps\n' +
            'old revisions until compaction and defragmentation. Restoring a control protects new copies only.',
        )
      },
      async after() {
        say('\n== 6. What it does not stop: anyone the API server answers reads plaintext')
        const read = apiServer.readSecret('services', 'db-login')
        context.show(
          "kubectl -n services get secret db-login -o jsonpath='{.data.password}' | base64 -d",
          read.password ?? '',
        )
        if (read.password !== password)
          throw new LessonFailure('after', 'the API server could not read its own Secret')
        say(
          'Envelope encryption protects the disk and its copies. `get secrets` (RBAC), a pod that mounts\n' +
            'the Secret, or a compromised node all see plaintext; the API server decrypts for them.',
        )

        say('\n== 7. Crypto-shredding: the KEK is disabled, then destroyed')
        kms.setState(kek, 'Disabled')
        const disabled = attempt(() => apiServer.readSecret('services', 'db-login'))
        context.show(`aws kms disable-key --key-id ${kek}   # then the same read`, disabled)
        if (!disabled.includes('DisabledException'))
          throw new LessonFailure('after', `a read with the KEK disabled did not fail: ${disabled}`)
        kms.setState(kek, 'Enabled')
        const enabled = attempt(() => apiServer.readSecret('services', 'db-login').password ?? '')
        context.show(`aws kms enable-key --key-id ${kek}   # disabling is reversible`, enabled)
        if (enabled !== password)
          throw new LessonFailure('after', 're-enabling the KEK did not make the Secret readable')
        const lastGood = apiServer.snapshot()
        kms.setState(kek, 'Destroyed')
        const destroyed = attempt(() => apiServer.readSecret('services', 'db-login'))
        context.show(
          `aws kms schedule-key-deletion --key-id ${kek} --pending-window-in-days 7   # ... 7 days later`,
          destroyed,
        )
        const fromSnapshot = attempt(() => {
          const restored = new ModelApiServer(kms, kek, config)
          restored.restoreSnapshot(lastGood)
          return restored.readSecret('services', 'db-login')
        })
        context.show(
          'etcdctl snapshot restore last-good.db   # a fresh API server on the backup, same config',
          fromSnapshot,
        )
        if (!destroyed.includes('deleted') || !fromSnapshot.includes('deleted'))
          throw new LessonFailure('after', 'data was still readable after the KEK was destroyed')
        say(
          'The ciphertext still exists everywhere it was copied, and nobody can read it: not the API\n' +
            'server, not you, not the thief. That is crypto-shredding; it is also how a whole cluster is lost\n' +
            '(EKS cannot recover a cluster whose KMS key was deleted).',
        )
        say(`\n${eksMapping}`)
      },
    }
  },
}

function attempt(read: () => unknown): string {
  try {
    const value = read()
    return typeof value === 'string' ? value : JSON.stringify(value)
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

const eksMapping = `How this maps to EKS:
- kube-apiserver's KMS v2 provider does this for real, through a KMS plugin on a Unix socket. It has KMS
  wrap a data-key seed once and derives a key per write from it (so KMS is not called per Secret),
  stores the wrapped seed beside each value, and a raw etcd value starts with k8s:enc:kms:v2:<name>:.
- On EKS 1.28 and later every cluster already has this with an AWS-owned key (default envelope
  encryption of all Kubernetes API data); you cannot see, audit or revoke that key.
- A customer-managed key (infra/: the cluster's secretsEncryptionKey, src/encryption.ts) adds what is
  yours: a key policy naming who may use it, a CloudTrail record of every Decrypt and GenerateDataKey,
  rotation on your schedule (enableKeyRotation), and the power to disable or delete it, which infra
  guards with an EventBridge rule and alarm on DisableKey and ScheduleKeyDeletion.
- Check a cluster: aws eks describe-cluster --name <cluster> --query cluster.encryptionConfig
- It does not stop anyone who can \`get secrets\` through the API server, pods that mount a Secret, or a
  compromised node: they all read plaintext. This system keeps the database password out of
  Secrets altogether: url-service reads it from Secrets Manager at run time (lesson 5).`
