/** IPv4 CIDR arithmetic for ipBlock rules. */

export function parseIPv4(address: string): number {
  const octets = address.split('.')
  if (octets.length !== 4) throw new Error(`not an IPv4 address: ${address}`)
  let value = 0
  for (const octet of octets) {
    if (!/^\d{1,3}$/.test(octet) || Number(octet) > 255)
      throw new Error(`not an IPv4 address: ${address}`)
    value = value * 256 + Number(octet)
  }
  return value
}

export function cidrContains(cidr: string, address: string): boolean {
  const [network, prefixText] = cidr.split('/')
  const prefix = Number(prefixText)
  if (network === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new Error(`not an IPv4 CIDR: ${cidr}`)
  }
  // Plain division instead of bit shifts: JavaScript shifts are 32-bit signed.
  const block = 2 ** (32 - prefix)
  return Math.floor(parseIPv4(network) / block) === Math.floor(parseIPv4(address) / block)
}
