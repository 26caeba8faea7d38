export { type AppOptions, bodyLimit, buildApp, serviceName } from './app.js'
export { type Config, loadConfig } from './config.js'
export { type RunningApiGateway, type StartApiGatewayOptions, startApiGateway } from './service.js'
export { traceparentFor } from './trace.js'
export {
  type CallContext,
  createHttpUrlServiceClient,
  type HttpUrlServiceClientOptions,
  type UrlServiceClient,
} from './url-service-client.js'
