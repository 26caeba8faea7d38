import { randomBytes } from 'node:crypto'

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
// 248 = 4 * 62: bytes at or above it are dropped so every letter is equally likely.
const unbiasedLimit = 248

/** A random base62 code from the CSPRNG; 62^7 ≈ 3.5e12 values at length 7. */
export function randomCode(length: number): string {
  let code = ''
  while (code.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < unbiasedLimit) code += alphabet[byte % 62]
      if (code.length === length) break
    }
  }
  return code
}
