/** Rewrites network-policies/*.yaml from the chart (see src/network-policies.ts). */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  expectedPolicyDocuments,
  networkPoliciesDir,
  readPolicyFiles,
} from '../src/network-policies.js'

const documents = expectedPolicyDocuments()
for (const file of readPolicyFiles().keys()) {
  if (!documents.has(file)) rmSync(join(networkPoliciesDir, file))
}
mkdirSync(join(networkPoliciesDir, 'optional'), { recursive: true })
for (const [file, text] of documents) writeFileSync(join(networkPoliciesDir, file), text)
console.log(`wrote ${documents.size} policies to ${networkPoliciesDir}`)
