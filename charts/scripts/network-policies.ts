/** Rewrites network-policies/*.yaml from the chart (see src/network-policies.ts). */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  networkPoliciesDir,
  readPolicyFiles,
  renderPolicyDocuments,
} from '../src/network-policies.js'

const documents = renderPolicyDocuments()
for (const file of readPolicyFiles().keys()) {
  if (!documents.has(file)) rmSync(join(networkPoliciesDir, file))
}
for (const [file, text] of documents) writeFileSync(join(networkPoliciesDir, file), text)
console.log(`wrote ${documents.size} policies to ${networkPoliciesDir}`)
