/**
 * `pnpm traces [count]`: the latest traces `pnpm dev` received, as trees
 * (service, span, duration, the peer's SPIFFE ID), from .dev/traces.jsonl.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatTraces, parseOtlpLines } from '@zt/devkit'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const stateDir = resolve(process.env.ZT_DEV_STATE_DIR ?? join(root, '.dev'))
const file = join(stateDir, 'traces.jsonl')
const count = Number(process.argv[2] ?? 5)
const text = await readFile(file, 'utf8').catch(() => undefined)
if (text === undefined) {
  process.stderr.write(`no traces yet: ${file} does not exist (is \`pnpm dev\` running?)\n`)
  process.exit(1)
}
process.stdout.write(`${formatTraces(parseOtlpLines(text), count)}\n`)
