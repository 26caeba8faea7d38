export { type AppOptions, bodyLimit, buildApp, serviceName } from './app.js'
export { type Config, loadConfig } from './config.js'
export { type RunningGateway, type StartOptions, startGateway } from './service.js'
export { traceparentFor } from './trace.js'
export {
  type CallContext,
  createHttpUrlServiceClient,
  type HttpUrlServiceClientOptions,
  type UrlServiceClient,
} from './url-service-client.js'
