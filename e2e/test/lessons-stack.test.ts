/**
 * The lessons that need the running system, on one shared stack, as
 * `pnpm lesson <n>` runs them without a terminal. Each must end with its
 * control held, broken (the attack got through) and restored (held); the
 * runner fails it at the step where that was not so.
 */
import t from 'tap'
import { lessonStackOptions, lessons, runLessons } from '../src/lessons/index.js'
import { createNarrator } from '../src/lessons/runner.js'
import { startE2eStack } from '../src/stack.js'

const stack = await startE2eStack(lessonStackOptions)
t.teardown(() => stack.stop())

for (const lesson of lessons.filter((l) => l.needsStack)) {
  t.test(`lesson ${lesson.n} (${lesson.layer})`, async (t) => {
    let text = ''
    const narrator = createNarrator({ write: (s) => (text += s), interactive: false })
    const [result] = await runLessons([lesson], narrator, { stack })
    t.comment(text)
    t.ok(result?.ok, result?.summary ?? 'no result')
    t.equal(
      text.trimEnd().split('\n').at(-1),
      `lesson ${lesson.n} (${lesson.layer}): held, broken (the attack got through), restored (held)`,
    )
  })
}
