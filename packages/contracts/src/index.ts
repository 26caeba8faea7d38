export * from './problems.js'
export * from './urls.js'
