export { type AppChartInputs, appChartValues } from './app-chart-values.js'
export {
  type IdentityMode,
  identityModes,
  parseStackConfig,
  readStackConfig,
  type StackConfig,
  type StackConfigInput,
} from './config.js'
export { ZeroTrustEksStack, type ZeroTrustEksStackProps } from './zero-trust-eks-stack.js'
