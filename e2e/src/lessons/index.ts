/** The lessons of `pnpm lesson`, in order, and how to run them on one shared stack. */

import type { StackOptions } from '@zt/devkit'
import { type E2eStack, startE2eStack } from '../stack.js'
import { cloudIdentity } from './cloud-identity.js'
import { dataAccess } from './data-access.js'
import { dataAtRest } from './data-at-rest.js'
import { networkIsolation } from './network-isolation.js'
import { type Lesson, type LessonResult, type Narrator, runLesson } from './runner.js'
import { workloadIdentity } from './workload-identity.js'

export const lessons: Lesson[] = [
  workloadIdentity,
  networkIsolation,
  cloudIdentity,
  dataAtRest,
  dataAccess,
].sort((a, b) => a.n - b.n)

/** The stack options every stack-needing lesson can share (lesson 5 needs quick pool turnover). */
export const lessonStackOptions = {
  env: {
    // Connections live 1 s, so a rotated password is met by a new login within seconds.
    'url-service': { DB_POOL_MAX_LIFETIME_SECONDS: '1' },
    worker: { DB_POOL_MAX_LIFETIME_SECONDS: '1' },
  } satisfies StackOptions['env'],
}

/**
 * Runs `selected` in order; starts one stack only if some of them need it
 * (or uses `stack` when given) and stops a stack it started.
 */
export async function runLessons(
  selected: readonly Lesson[],
  narrator: Narrator,
  options: {
    stack?: E2eStack
    /** Told when runLessons starts a stack of its own, so a Ctrl-C handler can stop it. */
    onStackStarting?: (starting: Promise<E2eStack>) => void
  } = {},
): Promise<LessonResult[]> {
  let stack = options.stack
  const owned = stack === undefined && selected.some((lesson) => lesson.needsStack)
  if (owned) {
    narrator.say(
      'Starting the local stack (as `pnpm dev` does, on free ports, state in a temp dir): PostgreSQL,\n' +
        'the SQS emulator, a local Secrets Manager, the dev SPIFFE CA, url-service, worker, gateway, frontend\n' +
        '(5 to 30 s). Ctrl-C stops it all.',
    )
    const starting = startE2eStack(lessonStackOptions)
    options.onStackStarting?.(starting)
    stack = await starting
  }
  try {
    const results: LessonResult[] = []
    for (const lesson of selected) {
      results.push(
        await runLesson(lesson, { ...narrator, stack: lesson.needsStack ? stack : undefined }),
      )
    }
    return results
  } finally {
    if (owned) await stack?.stop()
  }
}
