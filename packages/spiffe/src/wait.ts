import { SourceError } from './errors.js'
import type { X509Source } from './source.js'

/**
 * Resolves once the source holds its first SVID; rejects after `timeoutMs`
 * naming where it looked. A workload without an identity can do nothing
 * useful, and a start-up that hangs instead of failing is never restarted.
 */
export async function waitForSvid(
  source: Pick<X509Source, 'ready' | 'toString'>,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      source.ready(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SourceError(`no X.509-SVID from ${source} within ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
