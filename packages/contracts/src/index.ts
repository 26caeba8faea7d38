export * from './urls.js'
