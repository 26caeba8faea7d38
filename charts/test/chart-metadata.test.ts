/**
 * Chart.yaml as Helm reads it (`helm show chart`): what it declares holds.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { chartDir, exampleValues, helm, packageDir } from '../src/helm.js'

const chart = parse(helm(['show', 'chart', chartDir]).stdout) as {
  kubeVersion?: string
  maintainers?: { name: string }[]
  keywords?: string[]
  annotations?: Record<string, string>
}

t.test('the declared license is the repository’s', async (t) => {
  const root = JSON.parse(readFileSync(join(packageDir, '..', 'package.json'), 'utf8')) as {
    license: string
  }
  t.equal(chart.annotations?.['artifacthub.io/license'], root.license)
  t.ok(chart.maintainers?.length, 'maintainers')
  t.ok(chart.keywords?.includes('spiffe'), 'keywords')
})

t.test('kubeVersion refuses clusters without native sidecars (before 1.29)', async (t) => {
  const on = (version: string) =>
    helm(['template', 'zt', chartDir, '-f', exampleValues, '--kube-version', version])
  const old = on('1.28.9')
  t.equal(old.status, 1)
  t.match(old.stderr, /kubeVersion/)
  t.equal(on('1.29.0').status, 0)
  t.equal(on('v1.33.1-eks-1234567').status, 0, 'EKS version strings pass')
})
