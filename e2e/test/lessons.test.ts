/**
 * The lessons that need no stack, run as `pnpm lesson <n>` runs them (not
 * interactive), and the runner itself: a lesson whose attack still fails
 * once the control is removed, or still succeeds once it is restored, must
 * fail at that step, and the control must be put back after a failure.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { lessons, runLessons } from '../src/lessons/index.js'
import { createNarrator, type Lesson, runLesson } from '../src/lessons/runner.js'
import { repoRoot } from '../src/root.js'

function collector() {
  let text = ''
  const narrator = createNarrator({ write: (s) => (text += s), interactive: false })
  return { narrator, text: () => text, lastLine: () => text.trimEnd().split('\n').at(-1) }
}

for (const lesson of lessons.filter((l) => !l.needsStack)) {
  t.test(`lesson ${lesson.n} (${lesson.layer})`, async (t) => {
    const out = collector()
    const [result] = await runLessons([lesson], out.narrator)
    t.comment(out.text())
    t.ok(result?.ok, result?.summary ?? 'no result')
    t.equal(
      out.lastLine(),
      `lesson ${lesson.n} (${lesson.layer}): held, broken (the attack got through), restored (held)`,
    )
  })
}

/** A lesson over one boolean control, whose remove and restore can be made to lie. */
function fakeLesson(options: { removeWorks: boolean; restoreWorks: boolean }) {
  const state = { control: true, restores: 0 }
  const lesson: Lesson = {
    n: 99,
    layer: 'fake',
    title: 'fake',
    blurb: 'fake',
    needsStack: false,
    async start() {
      return {
        attackName: 'the fake attack',
        attack: async () => state.control,
        remove: async () => {
          if (options.removeWorks) state.control = false
        },
        restore: async () => {
          state.restores++
          if (options.restoreWorks) state.control = true
        },
      }
    },
  }
  return { lesson, state }
}

t.test('the runner fails a lesson whose control is not really removed or restored', async (t) => {
  const cases = [
    { removeWorks: true, restoreWorks: true, failedStep: undefined },
    { removeWorks: false, restoreWorks: true, failedStep: 'broken' },
    { removeWorks: true, restoreWorks: false, failedStep: 'restored' },
  ]
  for (const c of cases) {
    const { lesson, state } = fakeLesson(c)
    const out = collector()
    const result = await runLesson(lesson, { ...out.narrator, stack: undefined })
    t.equal(result.failedStep, c.failedStep, `remove ${c.removeWorks}, restore ${c.restoreWorks}`)
    t.equal(result.ok, c.failedStep === undefined)
    t.equal(out.lastLine(), result.summary, 'the summary is the last line')
    if (c.failedStep) t.match(result.summary, `lesson 99 (fake): FAILED at "${c.failedStep}"`)
    t.ok(state.restores >= 1, 'restore ran')
  }
  const { lesson, state } = fakeLesson({ removeWorks: false, restoreWorks: true })
  await runLesson(lesson, { ...collector().narrator, stack: undefined })
  t.equal(state.control, true, 'after a failure while removed, the control is put back')
})

t.test('pnpm lesson lists the lessons and runs one without a terminal', async (t) => {
  const run = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--conditions=zt-source', '--import=tsx', join(repoRoot, 'e2e/src/lesson.ts'), ...args],
      { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
    )
  const list = run([])
  t.equal(list.status, 0)
  for (const lesson of lessons) t.match(list.stdout, `  ${lesson.n}  ${lesson.layer}`)
  const offline = lessons.find((l) => !l.needsStack)
  if (offline) {
    const one = run([String(offline.n)])
    t.equal(one.status, 0, one.stderr)
    t.equal(
      one.stdout.trimEnd().split('\n').at(-1),
      `lesson ${offline.n} (${offline.layer}): held, broken (the attack got through), restored (held)`,
    )
  }
  const missing = run(['42'])
  t.equal(missing.status, 2)
})
