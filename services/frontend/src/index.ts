export { type AppOptions, bodyLimit, buildApp, contentSecurityPolicy, serviceName } from './app.js'
export { type Assets, buildWebAssets, prepareAssets } from './assets.js'
export { type Config, loadConfig } from './config.js'
export { type GatewayProxyOptions, gatewayProxy, gatewayReadiness } from './proxy.js'
