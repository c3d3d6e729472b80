import ArbiterCore
import Atomics
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The snapshot file: a 4 KiB header, then page-aligned sections laid out so that the file can
/// be mapped and used in place (no parsing):
///
/// | section | content |
/// |---|---|
/// | index | `capacity × [u64 id (0 empty)][u32 row (u32.max: not in this snapshot)][u32 0]` |
/// | rows | `padded rows × [u64 log position << 1][width × f32]` (each row padded to 8 bytes) |
/// | name refs | `padded rows × u32` offsets into the names section |
/// | names | `[u8 length][UTF-8]` per name |
/// | consents | `[u64 id]` and a consent entry (as the log's, ``LogRecords``) per recorded consent |
///
/// Header: magic `ARBSNAP1`, format, width, rows, padded rows, index capacity, the log position
/// the snapshot started at (replay resumes after it), creation time, the schema's SHA-256, each
/// section's offset, length and checksum, and the header's own checksum in its last 8 bytes.
enum SnapshotFormat {
  static let magic: UInt64 = 0x3150_414E_5342_5241  // "ARBSNAP1"
  static let version: UInt32 = 3
  /// Format 2 had no consents section; it is still read (no consents recorded).
  static let readableVersions: ClosedRange<UInt32> = 2...3
  static let headerSize = 4096
  static let fileName = "snapshot.arb"
  static let sectionNames = ["index", "rows", "name references", "names", "consents"]

  /// How many sections a snapshot of `format` has.
  static func sectionCount(format: UInt32) -> Int { format >= 3 ? 5 : 4 }

  struct Header {
    var width: Int
    var rows: Int
    var paddedRows: Int
    var capacity: Int
    var startLSN: UInt64
    var createdMillis: Int64
    var schemaHash: [UInt8]
    var sections: [(offset: Int, length: Int, checksum: UInt64)]
  }

  static func align(_ n: Int) -> Int { (n + 4095) & ~4095 }

  static func layout(width: Int, paddedRows: Int, capacity: Int) -> [(offset: Int, length: Int)] {
    let lengths = [capacity * HashIndex.slotSize, paddedRows * RowSegments.stride(width: width), paddedRows * 4]
    var offset = headerSize
    var result: [(Int, Int)] = []
    for length in lengths {
      result.append((offset, length))
      offset = align(offset + length)
    }
    result.append((offset, 0))  // names: length known after writing
    return result
  }

  static func encode(_ header: Header) -> [UInt8] {
    var w = LogRecords.Writer()
    w.put(magic)
    w.put(version)
    w.put(UInt32(header.width))
    w.put(UInt64(header.rows))
    w.put(UInt64(header.paddedRows))
    w.put(UInt64(header.capacity))
    w.put(header.startLSN)
    w.put(header.createdMillis)
    w.bytes.append(contentsOf: header.schemaHash)
    for section in header.sections {
      w.put(UInt64(section.offset))
      w.put(UInt64(section.length))
      w.put(section.checksum)
    }
    w.bytes.append(contentsOf: [UInt8](repeating: 0, count: headerSize - 8 - w.bytes.count))
    w.put(FastHash.hash(w.bytes))
    return w.bytes
  }

  static func decode(_ pointer: UnsafeRawPointer, length: Int, path: String) throws(ArbiterError) -> Header {
    guard length >= headerSize else {
      throw ArbiterError(.dataCorrupted, "\(path): \(length) bytes, shorter than a snapshot header; refusing it")
    }
    let buffer = UnsafeRawBufferPointer(start: pointer, count: headerSize)
    var r = LogRecords.Reader(buffer)
    func fail(_ what: String) -> ArbiterError {
      ArbiterError(.dataCorrupted, "\(path): \(what); refusing the snapshot")
    }
    do {
      guard try r.get(UInt64.self) == magic else { throw fail("not an Arbiter snapshot (bad magic)") }
      let stored = buffer.loadUnaligned(fromByteOffset: headerSize - 8, as: UInt64.self)
      guard FastHash.hash(pointer, count: headerSize - 8) == UInt64(littleEndian: stored) else {
        throw fail("header checksum mismatch")
      }
      let format = try r.get(UInt32.self)
      guard readableVersions.contains(format) else {
        throw ArbiterError(
          .failedPrecondition,
          "\(path): snapshot format \(format), this server reads \(readableVersions.lowerBound) to \(version)")
      }
      let width = Int(try r.get(UInt32.self))
      let rows = Int(try r.get(UInt64.self))
      let padded = Int(try r.get(UInt64.self))
      let capacity = Int(try r.get(UInt64.self))
      let start = try r.get(UInt64.self)
      let created = Int64(bitPattern: try r.get(UInt64.self))
      let hash = (0..<32).map { buffer[r.offset + $0] }
      r.offset += 32
      var sections: [(Int, Int, UInt64)] = []
      for _ in 0..<sectionCount(format: format) {
        sections.append((Int(try r.get(UInt64.self)), Int(try r.get(UInt64.self)), try r.get(UInt64.self)))
      }
      for (i, section) in sections.enumerated() where section.0 < headerSize || section.0 + section.1 > length {
        throw fail(
          "section \(i) (bytes \(section.0)..<\(section.0 + section.1)) lies outside the \(length)-byte file: truncated"
        )
      }
      return Header(
        width: width, rows: rows, paddedRows: padded, capacity: capacity, startLSN: start, createdMillis: created,
        schemaHash: hash, sections: sections)
    } catch let error as ArbiterError {
      throw error
    } catch {
      throw fail("header unreadable")
    }
  }
}

/// What a snapshot wrote.
public struct SnapshotReport: Sendable {
  /// The snapshot file written.
  public var path: String
  /// Customers in it.
  public var rows: Int
  /// Its size in bytes.
  public var bytes: Int
  /// The first log record not in it (replayed on top at the next open).
  public var startLSN: UInt64
  /// How long writing it took.
  public var seconds: Double
  /// Log segments it made obsolete and that were deleted.
  public var removedSegments: Int
}
