/**
 * The lesson runner behind `pnpm lesson`. Every lesson has the same shape:
 * the control holds against an attack, a real change of configuration or
 * policy removes it and the same attack gets through, the change is undone
 * and the attack is stopped again. The runner owns that sequence, so no
 * lesson can claim "held" or "restored" without running the attack.
 */
import type { E2eStack } from '../stack.js'

export interface Narrator {
  /** A paragraph for the reader. */
  say(text: string): void
  /** A command and what it printed, as a reader would see it in a terminal. */
  show(command: string, output: string): void
  /** Waits for Enter on a TTY; returns at once otherwise (CI, tests). */
  pause(): Promise<void>
}

export interface LessonContext extends Narrator {
  /** The running local stack, for lessons with needsStack. */
  readonly stack: E2eStack | undefined
}

/** What a lesson gives the runner once its setup is done. */
export interface LessonSteps {
  /** What is attacked, in a few words, for the step titles. */
  attackName: string
  /** Runs the attack and narrates it; true when the control stopped it. */
  attack(): Promise<boolean>
  /** Removes the control by a real change of configuration or policy. */
  remove(): Promise<void>
  /** Undoes that change. Always called once remove() has started, even when a step failed. */
  restore(): Promise<void>
  /** Further steps after the control is back (e.g. crypto-shredding); throw LessonFailure to fail. */
  after?(): Promise<void>
  /** Releases what the lesson set up (not the shared stack). */
  close?(): Promise<void>
}

export interface Lesson {
  n: number
  /** The layer, as printed in the summary line: "workload identity". */
  layer: string
  title: string
  /** One line for `pnpm lesson` with no argument. */
  blurb: string
  needsStack: boolean
  /** Introduces the lesson and sets it up. */
  start(context: LessonContext): Promise<LessonSteps>
}

export class LessonFailure extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message)
    this.name = 'LessonFailure'
  }
}

export interface LessonResult {
  n: number
  layer: string
  ok: boolean
  /** The step that failed, when one did. */
  failedStep?: string
  /** The last line the runner printed. */
  summary: string
}

/**
 * Runs one lesson: setup, the attack against the control, remove, the same
 * attack, restore, the attack again, then any further steps. Restores even
 * when a step fails, so a shared stack is never left without its control.
 */
export async function runLesson(lesson: Lesson, context: LessonContext): Promise<LessonResult> {
  const head = `lesson ${lesson.n} (${lesson.layer})`
  const heading = (title: string) => context.say(`\n== ${title}`)
  const finish = (failure?: { step: string; why: string }): LessonResult => {
    const summary = failure
      ? `${head}: FAILED at "${failure.step}": ${failure.why}`
      : `${head}: held, broken (the attack got through), restored (held)`
    context.say(`\n${summary}`)
    return {
      n: lesson.n,
      layer: lesson.layer,
      ok: !failure,
      ...(failure ? { failedStep: failure.step } : {}),
      summary,
    }
  }

  heading(`Lesson ${lesson.n}: ${lesson.title}`)
  let steps: LessonSteps
  try {
    steps = await lesson.start(context)
  } catch (error) {
    return finish({ step: 'setup', why: message(error) })
  }
  const failure = await runSteps(steps, context, heading)
  return finish(failure)
}

async function runSteps(
  steps: LessonSteps,
  context: LessonContext,
  heading: (title: string) => void,
): Promise<{ step: string; why: string } | undefined> {
  let step = 'held'
  let removed = false
  try {
    await context.pause()
    heading(`1. The control holds: ${steps.attackName}`)
    if (!(await steps.attack()))
      return { step, why: 'the attack got through with the control in place' }
    context.say('-> stopped. The control holds.')

    await context.pause()
    step = 'broken'
    heading('2. Remove the control')
    removed = true
    await steps.remove()
    heading(`3. The same attack, without the control: ${steps.attackName}`)
    if (await steps.attack())
      return { step, why: 'the attack was still stopped after the control was removed' }
    context.say('-> it got through. Without the control nothing else stopped it.')

    await context.pause()
    step = 'restored'
    heading('4. Restore the control')
    removed = false
    await steps.restore()
    heading(`5. The same attack, control restored: ${steps.attackName}`)
    if (!(await steps.attack()))
      return { step, why: 'the attack still got through after the control was restored' }
    context.say('-> stopped again.')

    if (steps.after) {
      await context.pause()
      step = 'after'
      await steps.after()
    }
    return undefined
  } catch (error) {
    return { step: error instanceof LessonFailure ? error.step : step, why: message(error) }
  } finally {
    if (removed) {
      context.say('(putting the control back after the failure)')
      await steps
        .restore()
        .catch((error: unknown) => context.say(`restore failed: ${message(error)}`))
    }
    await steps
      .close?.()
      .catch((error: unknown) => context.say(`cleanup failed: ${message(error)}`))
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Indents a block of command output under its command. */
export function indent(text: string, by = '    '): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `${by}${line}`)
    .join('\n')
}

/** A narrator that writes to `write`; pauses only when `interactive`. */
export function createNarrator(options: {
  write: (text: string) => void
  interactive: boolean
  waitForEnter?: () => Promise<void>
}): Narrator {
  return {
    say: (text) => options.write(`${text}\n`),
    show: (command, output) => options.write(`  $ ${command}\n${indent(output)}\n`),
    pause: async () => {
      if (!options.interactive || !options.waitForEnter) return
      options.write('  [Enter to continue]')
      await options.waitForEnter()
    },
  }
}
