import t from 'tap'
import { z } from 'zod'
import { ConfigError, env, parseConfig } from '../src/config.js'

const schema = z.object({
  PORT: env.port(8000),
  DEBUG: env.boolean(false),
  PEERS: env.list(),
  DB_PASSWORD: z.string().min(20),
})

t.test('parses and defaults', async (t) => {
  const config = parseConfig(schema, { DB_PASSWORD: 'x'.repeat(20), PEERS: 'a, b,,c' })
  t.same(config, { PORT: 8000, DEBUG: false, PEERS: ['a', 'b', 'c'], DB_PASSWORD: 'x'.repeat(20) })
})

t.test('reports every bad variable by name and never echoes a value', async (t) => {
  const error = t.throws(() =>
    parseConfig(schema, { PORT: '99999', DEBUG: 'yes', DB_PASSWORD: 'hunter2' }),
  ) as ConfigError
  t.type(error, ConfigError)
  t.equal(error.issues.length, 3)
  t.match(error.message, /PORT/)
  t.match(error.message, /DEBUG/)
  t.match(error.message, /DB_PASSWORD/)
  t.notMatch(error.message, /hunter2|99999/)
})
