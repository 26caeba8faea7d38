import { codePattern } from '@zt/contracts'

/** Where a page ended: created_at in epoch microseconds (exact) and the code. */
export interface Cursor {
  createdAtMicros: string
  code: string
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.createdAtMicros}:${cursor.code}`, 'utf8').toString('base64url')
}

/** Undefined for anything this service did not produce. */
export function decodeCursor(value: string): Cursor | undefined {
  const text = Buffer.from(value, 'base64url').toString('utf8')
  const separator = text.indexOf(':')
  if (separator < 0) return undefined
  const createdAtMicros = text.slice(0, separator)
  const code = text.slice(separator + 1)
  if (!/^\d{1,18}$/.test(createdAtMicros) || !codePattern.test(code)) return undefined
  return { createdAtMicros, code }
}
