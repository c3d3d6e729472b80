import Atomics

/// Display names, append-only: a name is written once as `[length byte][UTF-8]` and rows point
/// at it with a 32-bit reference (below 2^31: the mapped snapshot's name section; above: runtime
/// chunks). Changing a name writes a new one and swaps the row's reference atomically, so readers
/// never lock. Superseded names are dropped when the next snapshot compacts them.
final class NameArena: @unchecked Sendable {
  static let none: UInt32 = 0xFFFF_FFFF
  static let maxLength = 255
  static let chunkBits = 20
  static let chunkSize = 1 << chunkBits
  static let maxChunks = 2_047

  private var base: UnsafeRawPointer?
  private var baseLength = 0
  private var baseOwner: AnyObject?
  private let chunks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: maxChunks)
  private var chunkCount = 0
  private var offset = chunkSize

  init() { chunks.initialize(repeating: nil, count: Self.maxChunks) }

  deinit {
    for i in 0..<chunkCount { chunks[i]?.deallocate() }
    chunks.deallocate()
  }

  /// Uses a snapshot's name section. Writer only, before publication.
  func setBase(_ pointer: UnsafeRawPointer, length: Int, owner: AnyObject) {
    base = pointer
    baseLength = length
    baseOwner = owner
  }

  /// Stores a name (≤ 255 UTF-8 bytes); returns its reference. Writer only.
  func append(_ name: String) throws(ArbiterStoreError) -> UInt32 {
    let bytes = Array(name.utf8)
    guard bytes.count <= Self.maxLength else {
      throw ArbiterStoreError("display name longer than \(Self.maxLength) bytes")
    }
    if offset + 1 + bytes.count > Self.chunkSize {
      guard chunkCount < Self.maxChunks else {
        throw ArbiterStoreError("name arena is full; take a snapshot to compact it")
      }
      chunks[chunkCount] = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 8)
      chunkCount += 1
      offset = 0
    }
    let chunk = chunks[chunkCount - 1]!
    chunk.storeBytes(of: UInt8(bytes.count), toByteOffset: offset, as: UInt8.self)
    bytes.withUnsafeBytes { source in
      if let address = source.baseAddress { (chunk + offset + 1).copyMemory(from: address, byteCount: source.count) }
    }
    let reference = UInt32(0x8000_0000) | UInt32((chunkCount - 1) << Self.chunkBits) | UInt32(offset)
    offset += 1 + bytes.count
    return reference
  }

  /// The name a reference points at ("" for none).
  func name(_ reference: UInt32) -> String {
    guard reference != Self.none else { return "" }
    let pointer: UnsafeRawPointer
    if reference & 0x8000_0000 == 0 {
      guard let base, Int(reference) < baseLength else { return "" }
      pointer = base + Int(reference)
    } else {
      let chunk = Int((reference & 0x7FFF_FFFF) >> UInt32(Self.chunkBits))
      guard chunk < Self.maxChunks, let start = chunks[chunk] else { return "" }
      pointer = UnsafeRawPointer(start) + Int(reference & UInt32(Self.chunkSize - 1))
    }
    let length = Int(pointer.load(as: UInt8.self))
    return String(decoding: UnsafeRawBufferPointer(start: pointer + 1, count: length), as: UTF8.self)
  }
}

/// A failure inside the store, turned into an ``ArbiterCore/ArbiterError`` at its boundary.
struct ArbiterStoreError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
