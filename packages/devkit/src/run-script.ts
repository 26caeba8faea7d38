import { spawn } from 'node:child_process'

export interface ScriptResult {
  /** The exit code; 1 when the process was killed by a signal. */
  code: number
  /** stdout and stderr interleaved as they arrived, as a reader of the log would see them. */
  output: string
}

/**
 * Runs a TypeScript entry point from its source (tsx, the zt-source condition)
 * with exactly `env` plus PATH, so that a test sees what the script does with
 * the environment it is given and nothing it happens to inherit.
 */
export function runScript(
  source: string,
  env: Readonly<Record<string, string>>,
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=zt-source', '--import=tsx', source], {
      env: { ...env, PATH: process.env.PATH ?? '' },
    })
    let output = ''
    const collect = (chunk: Buffer) => {
      output += chunk
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, output }))
  })
}
