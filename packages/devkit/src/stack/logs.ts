/**
 * Turns a service's pino JSON line into one short readable line, so `pnpm dev`
 * output can be followed by eye. Lines that are not JSON pass through.
 */
const levelNames: Record<string, string> = {
  '10': 'TRACE',
  '20': 'DEBUG',
  '30': 'INFO',
  '40': 'WARN',
  '50': 'ERROR',
  '60': 'FATAL',
}

const hidden = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'v'])

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>
    // Errors: the message is what a reader needs; the stack is in the raw log.
    if (typeof record.message === 'string') return JSON.stringify(record.message)
    return JSON.stringify(value)
  }
  return String(value)
}

export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : ''
  const level = levelNames[String(entry.level)] ?? String(entry.level ?? '').toUpperCase()
  const fields = Object.entries(entry)
    .filter(([key]) => !hidden.has(key))
    .map(([key, value]) => `${key}=${formatValue(value)}`)
  return [time, level.padEnd(5), String(entry.msg ?? ''), ...fields].filter(Boolean).join(' ')
}

const colors = [36, 35, 33, 32, 34, 91, 96]

/** A fixed-width, coloured (on a TTY) name in front of every line. */
export function prefixer(name: string, index: number, width: number, color: boolean) {
  const label = name.padEnd(width)
  const code = colors[index % colors.length]
  return color ? `\u001b[${code}m${label}\u001b[0m │ ` : `${label} │ `
}
