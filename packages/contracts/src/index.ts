export * from './env.js'
export * from './problems.js'
export * from './urls.js'
