import Atomics

/// Rows live in segments of 65,536. A row is `[u64 state][width × f32]` (padded to 8 bytes), so
/// a read touches one place; name references are kept beside. The segment table has a fixed
/// capacity, so readers index it without locks; the writer fills a segment's entry before any row
/// in it is published.
///
/// The state word is a sequence lock and the row's log position at once: `lsn << 1`, with the
/// low bit set while the writer changes the row. Readers copy the row and retry if the word
/// changed or was odd, so every read sees one whole version of a customer.
final class RowSegments: @unchecked Sendable {
  static let rowsPerSegment = 1 << 16
  static let segmentShift = 16
  static let maxSegments = 1 << 15  // 2^31 rows

  struct Segment {
    var rows: UnsafeMutableRawPointer
    var names: UnsafeMutablePointer<UInt32>
  }

  let width: Int
  /// Bytes per row: the state word, then the values, padded to 8.
  let stride: Int

  static func stride(width: Int) -> Int { (8 + width * 4 + 7) & ~7 }
  private let table: UnsafeMutablePointer<Segment>
  private(set) var segmentCount = 0
  /// Segments this object allocated (the rest belong to a mapped snapshot).
  private var owned: [Int] = []
  private var owners: [AnyObject] = []

  init(width: Int) {
    self.width = width
    self.stride = Self.stride(width: width)
    table = UnsafeMutablePointer<Segment>.allocate(capacity: Self.maxSegments)
  }

  deinit {
    for index in owned {
      let segment = table[index]
      HugePages.free(segment.rows, length: Self.rowsPerSegment * stride)
      segment.names.deallocate()
    }
    table.deallocate()
  }

  /// Adds segments over mapped memory: `rows` (a multiple of the segment size) rows at the given
  /// bases. Writer only, before publication.
  func addMapped(rows base: UnsafeMutableRawPointer, names: UnsafeMutableRawPointer, rows: Int, owner: AnyObject) {
    precondition(rows % Self.rowsPerSegment == 0)
    let n = names.bindMemory(to: UInt32.self, capacity: rows)
    for k in 0..<(rows / Self.rowsPerSegment) {
      let offset = k * Self.rowsPerSegment
      table[segmentCount] = Segment(rows: base + offset * stride, names: n + offset)
      segmentCount += 1
    }
    owners.append(owner)
  }

  /// Makes room for `row`, allocating a fresh segment if needed. Writer only.
  func ensureCapacity(forRow row: Int) throws(ArbiterStoreError) {
    while row >= segmentCount * Self.rowsPerSegment {
      guard segmentCount < Self.maxSegments else {
        throw ArbiterStoreError("the store is full (\(Self.maxSegments * Self.rowsPerSegment) customers)")
      }
      let n = Self.rowsPerSegment
      let rows = HugePages.allocate(n * stride)  // zeroed
      for r in 0..<n { (rows + r * stride + 8).initializeMemory(as: Float.self, repeating: .nan, count: width) }
      let names = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
      names.initialize(repeating: NameArena.none, count: n)
      table[segmentCount] = Segment(rows: rows, names: names)
      owned.append(segmentCount)
      segmentCount += 1
    }
  }

  @inline(__always) func base(_ row: Int) -> UnsafeMutableRawPointer {
    table[row >> Self.segmentShift].rows + (row & (Self.rowsPerSegment - 1)) * stride
  }

  @inline(__always) func values(_ row: Int) -> UnsafeMutablePointer<Float> {
    (base(row) + 8).assumingMemoryBound(to: Float.self)
  }

  @inline(__always) func state(_ row: Int) -> UnsafeAtomic<UInt64> {
    UnsafeAtomic(at: base(row).assumingMemoryBound(to: UnsafeAtomic<UInt64>.Storage.self))
  }

  @inline(__always) func nameRef(_ row: Int) -> UnsafeAtomic<UInt32> {
    let pointer = table[row >> Self.segmentShift].names + (row & (Self.rowsPerSegment - 1))
    return UnsafeAtomic(at: UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: UnsafeAtomic<UInt32>.Storage.self))
  }

  /// Copies one consistent version of `row` into `out`; returns its log position.
  @inline(__always) func read(_ row: Int, into out: UnsafeMutablePointer<Float>) -> UInt64 {
    let base = base(row)
    let state = UnsafeAtomic<UInt64>(at: base.assumingMemoryBound(to: UnsafeAtomic<UInt64>.Storage.self))
    let source = (base + 8).assumingMemoryBound(to: Float.self)
    while true {
      let before = state.load(ordering: .acquiring)
      if before & 1 == 1 { continue }
      out.update(from: source, count: width)
      atomicMemoryFence(ordering: .acquiring)
      if state.load(ordering: .relaxed) == before { return before >> 1 }
    }
  }

  /// The row's log position (the newest change applied to it).
  @inline(__always) func lsn(_ row: Int) -> UInt64 { state(row).load(ordering: .acquiring) >> 1 }

  /// Changes `row` under its sequence lock and stamps it with `lsn`. Writer only.
  @inline(__always) func write(_ row: Int, lsn: UInt64, _ body: (UnsafeMutablePointer<Float>) -> Void) {
    let state = state(row)
    let current = state.load(ordering: .relaxed)
    state.store(current | 1, ordering: .relaxed)
    atomicMemoryFence(ordering: .releasing)
    body(values(row))
    state.store(lsn << 1, ordering: .releasing)
  }
}
