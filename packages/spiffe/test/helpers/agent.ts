// The agent stand-in lives in the library (src/dev-agent.ts) so the
// container suite in e2e serves the Workload API with the same code.
export { DevAgent as FakeAgent, devAgentResponse as responseFor } from '../../src/dev-agent.js'
