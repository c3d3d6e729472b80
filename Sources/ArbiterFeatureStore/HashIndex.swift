import Atomics

/// Customer id → row, as an open-addressing hash table with linear probing (id 0 marks an empty
/// slot). Readers probe without locks; the single writer fills a slot's row before publishing its
/// key with a release store. Memory is either owned or part of a mapped snapshot.
final class HashIndex: @unchecked Sendable {
  typealias Key = UnsafeAtomic<UInt64>.Storage
  let capacity: Int
  let mask: Int
  let keys: UnsafeMutablePointer<Key>
  let rows: UnsafeMutablePointer<UInt32>
  private let owner: AnyObject?

  /// An empty, owned table of `capacity` (a power of two) slots.
  init(capacity: Int) {
    precondition(capacity > 0 && capacity & (capacity - 1) == 0)
    self.capacity = capacity
    self.mask = capacity - 1
    let rawKeys = UnsafeMutableRawPointer.allocate(byteCount: capacity * 8, alignment: 64)
    rawKeys.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * 8)
    keys = rawKeys.bindMemory(to: Key.self, capacity: capacity)
    rows = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
    rows.initialize(repeating: 0, count: capacity)
    owner = nil
  }

  /// A table over memory owned by `owner` (a mapped snapshot).
  init(keys: UnsafeMutableRawPointer, rows: UnsafeMutableRawPointer, capacity: Int, owner: AnyObject) {
    self.capacity = capacity
    self.mask = capacity - 1
    self.keys = keys.bindMemory(to: Key.self, capacity: capacity)
    self.rows = rows.bindMemory(to: UInt32.self, capacity: capacity)
    self.owner = owner
  }

  deinit {
    if owner == nil {
      UnsafeMutableRawPointer(keys).deallocate()
      rows.deallocate()
    }
  }

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
    UnsafeAtomic<UInt64>(at: keys + slot).load(ordering: .acquiring)
  }

  /// The row of `id`, or nil. Lock-free.
  @inline(__always) func find(_ id: UInt64) -> Int? {
    var slot = Self.slot(of: id, mask: mask)
    while true {
      let key = key(at: slot)
      if key == id { return Int(rows[slot]) }
      if key == 0 { return nil }
      slot = (slot + 1) & mask
    }
  }

  /// Adds `id` (not present) at `row`. Writer only.
  func insert(_ id: UInt64, row: Int) {
    var slot = Self.slot(of: id, mask: mask)
    while key(at: slot) != 0 { slot = (slot + 1) & mask }
    rows[slot] = UInt32(row)
    UnsafeAtomic<UInt64>(at: keys + slot).store(id, ordering: .releasing)
  }

  /// Every (id, row) pair with row below `limit`.
  func forEach(rowsBelow limit: Int, _ body: (UInt64, Int) throws -> Void) rethrows {
    for slot in 0..<capacity {
      let id = key(at: slot)
      if id != 0, Int(rows[slot]) < limit { try body(id, Int(rows[slot])) }
    }
  }
}

extension HashIndex {
  /// A row number that marks an id a snapshot saw in its index but whose row it did not include.
  static let tombstone = UInt32.max

  /// Adds `id` at `row`, or revives its tombstone. Writer only.
  func insertOrRevive(_ id: UInt64, row: Int) {
    var slot = Self.slot(of: id, mask: mask)
    while true {
      let key = key(at: slot)
      if key == id {
        UnsafeAtomic<UInt32>(at: UnsafeMutableRawPointer(rows + slot).assumingMemoryBound(to: UnsafeAtomic<UInt32>.Storage.self))
          .store(UInt32(row), ordering: .releasing)
        return
      }
      if key == 0 { break }
      slot = (slot + 1) & mask
    }
    insert(id, row: row)
  }
}
