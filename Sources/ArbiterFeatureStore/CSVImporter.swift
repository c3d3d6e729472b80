import ArbiterCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What a CSV import did.
public struct CSVImportReport: Sendable, CustomStringConvertible {
  /// Data rows read (the header not counted).
  public var rows = 0
  /// Customers new to the store.
  public var inserted = 0
  /// Customers already in the store, replaced.
  public var updated = 0
  /// Rows refused (see ``errors``).
  public var rejected = 0
  /// The first rejections, each naming the line and the column.
  public var errors: [String] = []
  /// Header columns that are not features of the schema (ignored).
  public var ignoredColumns: [String] = []
  /// Wall time of the import, snapshot included.
  public var seconds = 0.0

  /// A one-line summary of the counts and time.
  public var description: String {
    var text =
      "\(rows) rows: \(inserted) inserted, \(updated) updated, \(rejected) rejected "
      + "in \(String(format: "%.1f", seconds)) s"
    if !ignoredColumns.isEmpty { text += "; ignored columns: \(ignoredColumns.joined(separator: ", "))" }
    return text
  }
}

/// Bulk import of customers from CSV as a data warehouse exports it: a header row naming
/// `customer_id`, optionally `display_name`, and feature columns by schema name (any order);
/// RFC 4180 quoting; an empty cell is a missing value. Values are as of the export (days since,
/// flags, trends), checked against the schema's ranges and stored as of `asOfDays` by
/// ``FeatureStore/upsert(_:asOfDays:logged:)``, as UpsertProfiles stores them.
///
/// The file is mapped and parsed in parallel chunks; rows are applied in file order (the last of
/// duplicate ids wins). A bad row is rejected, counted and reported with its line and column;
/// the rest are imported.
public enum CSVImporter {
  /// How many rejections the report spells out (all are counted).
  public static let maxReportedErrors = 20

  /// Maps the file, reads its header (``readColumns(_:path:schema:ignored:)``), splits the rows
  /// into chunks and parses and applies them (``ImportRun``).
  public static func importFile(
    path: String, into store: FeatureStore, asOfDays: Double, logged: Bool = true, threads: Int = 2
  ) throws(ArbiterError) -> CSVImportReport {
    let started = DispatchTime.now().uptimeNanoseconds
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ArbiterError(.notFound, "cannot open '\(path)': \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    fstat(fd, &info)
    let length = Int(info.st_size)
    guard length > 0 else { throw ArbiterError(.invalidArgument, "\(path): empty file, expected a header row") }
    guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), mapped != MAP_FAILED else {
      throw ArbiterError(.failedPrecondition, "cannot map '\(path)'")
    }
    defer { munmap(mapped, length) }
    nonisolated(unsafe) let bytes = UnsafeRawBufferPointer(start: mapped, count: length)

    var run = ImportRun(path: path, store: store, asOfDays: asOfDays, logged: logged)
    let columns = try readColumns(bytes, path: path, schema: store.schema, ignored: &run.report.ignoredColumns)
    let parser = ChunkParser(bytes: bytes, columns: columns, width: store.width, path: path)
    let chunks = chunkBounds(bytes, from: columns.bodyStart, threads: threads)
    try run.importChunks(chunks, parser: parser, threads: threads)
    run.report.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    return run.report
  }

  /// The rows split at line boundaries into chunks of at least 1 MiB, about eight per thread.
  static func chunkBounds(_ bytes: UnsafeRawBufferPointer, from bodyStart: Int, threads: Int) -> [(Int, Int)] {
    let length = bytes.count
    let chunkSize = max(1 << 20, (length - bodyStart) / max(1, threads * 8))
    var bounds: [Int] = [bodyStart]
    while let last = bounds.last, last < length {
      var end = min(length, last + chunkSize)
      while end < length && bytes[end - 1] != 0x0a { end += 1 }
      bounds.append(end)
    }
    return Array(zip(bounds, bounds.dropFirst()))
  }

  /// A quoted or plain field starting at `start`; returns its text and the index after its comma.
  static func readField(
    _ bytes: UnsafeRawBufferPointer, from start: Int, end: Int, line: Int, path: String
  ) throws(ArbiterError) -> (String, Int) {
    guard start < end, bytes[start] == UInt8(ascii: "\"") else {
      var i = start
      while i < end && bytes[i] != UInt8(ascii: ",") { i += 1 }
      return (String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self), i + 1)
    }
    var text: [UInt8] = []
    var i = start + 1
    while true {
      guard i < end else { throw ArbiterError(.invalidArgument, "quoted field not closed on its line") }
      if bytes[i] == UInt8(ascii: "\"") {
        if i + 1 < end && bytes[i + 1] == UInt8(ascii: "\"") { text.append(UInt8(ascii: "\"")); i += 2; continue }
        i += 1
        break
      }
      text.append(bytes[i])
      i += 1
    }
    guard i >= end || bytes[i] == UInt8(ascii: ",") else {
      throw ArbiterError(.invalidArgument, "text after a closing quote")
    }
    return (String(decoding: text, as: UTF8.self), i + 1)
  }

  @inline(__always) static func parseUInt64(_ field: UnsafeRawBufferPointer) -> UInt64? {
    guard !field.isEmpty, field.count <= 20 else { return nil }
    var value: UInt64 = 0
    for byte in field {
      guard byte >= 48 && byte <= 57 else { return nil }
      let (times, o1) = value.multipliedReportingOverflow(by: 10)
      let (sum, o2) = times.addingReportingOverflow(UInt64(byte - 48))
      if o1 || o2 { return nil }
      value = sum
    }
    return value
  }

  /// Integers below 2^24 exactly by hand; anything else through the C library's correctly
  /// rounded `strtof`, so that the result equals Swift's `Float(String)`.
  @inline(__always) static func parseFloat(_ field: UnsafeRawBufferPointer) -> Float? {
    var negative = false
    var i = 0
    if field.count > 0 && field[0] == UInt8(ascii: "-") { negative = true; i = 1 }
    var integer = 0
    var plain = i < field.count && field.count - i <= 7
    if plain {
      for j in i..<field.count {
        let byte = field[j]
        guard byte >= 48 && byte <= 57 else { plain = false; break }
        integer = integer * 10 + Int(byte - 48)
      }
    }
    if plain { return negative ? -Float(integer) : Float(integer) }
    guard field.count < 64 else { return nil }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer -> Float? in
      for j in 0..<field.count { buffer[j] = CChar(bitPattern: field[j]) }
      buffer[field.count] = 0
      var end: UnsafeMutablePointer<CChar>?
      let value = strtof(buffer.baseAddress!, &end)
      guard let end, end - buffer.baseAddress! == field.count else { return nil }
      return value
    }
  }
}

/// Shared with the importer: which features are internal state (not expected in a CSV).
enum CompiledDerivationsInternal {
  static func isInternal(_ feature: FeatureDefinition) -> Bool { CompiledDerivations.isInternalState(feature) }
}
