import Atomics

/// Customer id → row, as an open-addressing hash table with linear probing (id 0 marks an empty
/// slot). A slot is 16 bytes, `[u64 id][u32 row][u32 unused]`, so a lookup costs one cache miss.
/// Readers probe without locks; the single writer fills a slot's row before publishing its id
/// with a release store. Memory is either owned or part of a mapped snapshot.
final class HashIndex: @unchecked Sendable {
  static let slotSize = 16
  let capacity: Int
  let mask: Int
  let slots: UnsafeMutableRawPointer
  private let owner: AnyObject?

  /// An empty, owned table of `capacity` (a power of two) slots.
  init(capacity: Int) {
    precondition(capacity > 0 && capacity & (capacity - 1) == 0)
    self.capacity = capacity
    self.mask = capacity - 1
    slots = HugePages.allocate(capacity * Self.slotSize)  // zeroed
    owner = nil
  }

  /// A table over memory owned by `owner` (a mapped snapshot).
  init(slots: UnsafeMutableRawPointer, capacity: Int, owner: AnyObject) {
    self.capacity = capacity
    self.mask = capacity - 1
    self.slots = slots
    self.owner = owner
  }

  deinit {
    if owner == nil { HugePages.free(slots, length: capacity * Self.slotSize) }
  }

  @inline(__always) private func keyAtomic(_ slot: Int) -> UnsafeAtomic<UInt64> {
    UnsafeAtomic(at: (slots + slot * Self.slotSize).assumingMemoryBound(to: UnsafeAtomic<UInt64>.Storage.self))
  }

  @inline(__always) private func rowAtomic(_ slot: Int) -> UnsafeAtomic<UInt32> {
    UnsafeAtomic(at: (slots + slot * Self.slotSize + 8).assumingMemoryBound(to: UnsafeAtomic<UInt32>.Storage.self))
  }

  /// The row stored in a slot (after its key was read).
  @inline(__always) func row(at slot: Int) -> UInt32 { rowAtomic(slot).load(ordering: .relaxed) }

  /// The smallest power-of-two capacity that holds `count` ids at a load factor of at most 0.6.
  static func capacity(for count: Int) -> Int {
    var capacity = 1024
    while Double(count) > Double(capacity) * 0.6 { capacity <<= 1 }
    return capacity
  }

  @inline(__always) static func slot(of id: UInt64, mask: Int) -> Int {
    var h = id
    h ^= h >> 33
    h = h &* 0xff51_afd7_ed55_8ccd
    h ^= h >> 33
    h = h &* 0xc4ce_b9fe_1a85_ec53
    h ^= h >> 33
    return Int(truncatingIfNeeded: h) & mask
  }

  @inline(__always) func key(at slot: Int) -> UInt64 {
    keyAtomic(slot).load(ordering: .acquiring)
  }

  /// The row of `id`, or nil. Lock-free.
  @inline(__always) func find(_ id: UInt64) -> Int? {
    var slot = Self.slot(of: id, mask: mask)
    while true {
      let key = key(at: slot)
      if key == id { return Int(row(at: slot)) }
      if key == 0 { return nil }
      slot = (slot + 1) & mask
    }
  }

  /// Adds `id` (not present) at `row`. Writer only.
  func insert(_ id: UInt64, row: Int) {
    var slot = Self.slot(of: id, mask: mask)
    while key(at: slot) != 0 { slot = (slot + 1) & mask }
    rowAtomic(slot).store(UInt32(row), ordering: .relaxed)
    keyAtomic(slot).store(id, ordering: .releasing)
  }

  /// Every (id, row) pair with row below `limit`.
  func forEach(rowsBelow limit: Int, _ body: (UInt64, Int) throws -> Void) rethrows {
    for slot in 0..<capacity {
      let id = key(at: slot)
      if id != 0, Int(row(at: slot)) < limit { try body(id, Int(row(at: slot))) }
    }
  }
}

extension HashIndex {
  /// A row number that marks an id a snapshot saw in its index but whose row it did not include.
  static let tombstone = UInt32.max

  /// Marks `id` as not in the store (its row becomes a tombstone); readers then find no row for
  /// it. Writer only.
  func retire(_ id: UInt64) {
    var slot = Self.slot(of: id, mask: mask)
    while true {
      let key = key(at: slot)
      if key == id {
        rowAtomic(slot).store(Self.tombstone, ordering: .releasing)
        return
      }
      if key == 0 { return }
      slot = (slot + 1) & mask
    }
  }

  /// How many ids have a row below `limit`.
  func count(rowsBelow limit: Int) -> Int {
    var n = 0
    forEach(rowsBelow: limit) { _, _ in n += 1 }
    return n
  }

  /// Adds `id` at `row`, or revives its tombstone. Writer only.
  func insertOrRevive(_ id: UInt64, row: Int) {
    var slot = Self.slot(of: id, mask: mask)
    while true {
      let key = key(at: slot)
      if key == id {
        rowAtomic(slot).store(UInt32(row), ordering: .releasing)
        return
      }
      if key == 0 { break }
      slot = (slot + 1) & mask
    }
    insert(id, row: row)
  }
}
