import { readdirSync, readFileSync } from 'node:fs'

/** Direct children of a process, from every thread's `children` list in /proc. */
function children(pid: number): number[] {
  const found: number[] = []
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return found
  }
  for (const task of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim()
      if (text !== '') found.push(...text.split(/\s+/).map(Number))
    } catch {
      // The thread ended while we read; its children moved to another thread or to init.
    }
  }
  return found
}

/** Every process below `pid` (children, grandchildren, ...), found through /proc. */
export function descendants(pid: number): number[] {
  const all: number[] = []
  const queue = [pid]
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children(next)) {
      if (!all.includes(child)) {
        all.push(child)
        queue.push(child)
      }
    }
  }
  return all
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** The command line of a process, for reports ("postgres -D ..."). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {
    return '?'
  }
}
