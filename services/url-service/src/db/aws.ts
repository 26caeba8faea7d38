import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { fromNodeProviderChain } from '@aws-sdk/credential-providers'

/**
 * One Secrets Manager client per process, on the SDK's default credential
 * chain: IRSA's web-identity token file, EKS Pod Identity, ... — never keys in
 * configuration. The region is handed to the chain's inner STS client too,
 * which otherwise may not find one (aws-sdk-js-v3 #5105, #7452).
 * AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_STS redirect it locally.
 */
export function createSecretFetcher(region: string): (secretId: string) => Promise<string> {
  const client = new SecretsManagerClient({
    region,
    credentials: fromNodeProviderChain({ clientConfig: { region } }),
  })
  return async (secretId) => {
    const output = await client.send(new GetSecretValueCommand({ SecretId: secretId }))
    if (typeof output.SecretString !== 'string') {
      throw new Error(`database secret ${secretId} has no SecretString`)
    }
    return output.SecretString
  }
}
