import ArbiterCore
import Foundation

/// Reads a warehouse export (RFC 4180, comma, semicolon, tab or pipe separated, with a header)
/// into a ``LabelledTable``: the target column, optionally an id column and a split column, and
/// every other column a feature, of the kind a schema gives or inferred from the values (numbers;
/// booleans as 0/1, yes/no, true/false; categories with their levels sorted). Every problem names
/// the file, line and column.
public enum TableReader {
  /// What to read and how.
  public struct Options: Sendable {
    /// The target column.
    public var target: String
    /// The target's positive value; nil takes 1, yes, true, y or t (any case) when one of the two values is.
    public var positive: String?
    /// A column of row ids, kept out of the features.
    public var idColumn: String?
    /// A column whose value splits the rows into folds, kept out of the features.
    public var splitColumn: String?
    /// Columns left out.
    public var ignored: Set<String> = []
    /// The features and their kinds; nil infers them. Given, every feature must be a column and
    /// every value must be of its kind (a category one of its levels).
    public var schema: FeatureSchema?
    /// Cells read as missing (NaN).
    public var missingValues: Set<String> = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "?"]

    /// Options for a target column.
    public init(target: String) { self.target = target }
  }

  /// What was inferred, column by column, for the report.
  public struct Inference: Sendable {
    /// One feature's column.
    public struct Column: Sendable {
      /// The column's name in the file.
      public var column: String
      /// The feature's name (the column's, with characters other than letters, digits and `_` as `_`).
      public var feature: String
      /// "numeric", "boolean" or "categorical (n levels)".
      public var kind: String
      /// Cells read as missing.
      public var missing: Int
    }

    /// The features.
    public var columns: [Column]
    /// The target's positive value and the counts of each class.
    public var positiveValue: String
    public var negativeValue: String
    /// Columns left out: the id, the split column, the ignored ones.
    public var leftOut: [String]
    /// The field separator found.
    public var delimiter: String

    /// The report as lines of text.
    public var lines: [String] {
      var lines = ["separator '\(delimiter)'; target positive '\(positiveValue)', negative '\(negativeValue)'"]
      for column in columns {
        let renamed = column.feature == column.column ? "" : " as \(column.feature)"
        lines.append("  \(column.column)\(renamed): \(column.kind), \(column.missing) missing")
      }
      if !leftOut.isEmpty { lines.append("  left out: \(leftOut.joined(separator: ", "))") }
      return lines
    }
  }

  /// Reads the file at `path`.
  public static func read(path: String, options: Options) throws(ArbiterError) -> (LabelledTable, Inference) {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ArbiterError(.notFound, "\(path): cannot be read as UTF-8 text (\(error.localizedDescription))")
    }
    return try read(text: text, file: (path as NSString).lastPathComponent, options: options)
  }

  /// Reads CSV text; `file` names it in messages.
  public static func read(text: String, file: String, options: Options) throws(ArbiterError) -> (
    LabelledTable, Inference
  ) {
    let delimiter = CSVTable.likelyDelimiter(of: text[...])
    let csv = try CSVTable(text: text, file: file, delimiter: delimiter)
    guard !csv.rows.isEmpty else { throw ArbiterError(.invalidArgument, "\(file): no rows after the header") }
    let header = csv.header.map { $0.trimmingCharacters(in: .whitespaces) }
    func column(_ name: String, what: String) throws(ArbiterError) -> Int {
      guard let index = header.firstIndex(of: name) else {
        throw ArbiterError(
          .invalidArgument, "\(file): no \(what) column '\(name)' in the header (\(header.joined(separator: ", ")))")
      }
      return index
    }
    let targetIndex = try column(options.target, what: "target")
    let idIndex = try options.idColumn.map { name throws(ArbiterError) in try column(name, what: "id") }
    let splitIndex = try options.splitColumn.map { name throws(ArbiterError) in try column(name, what: "split") }
    for name in options.ignored { _ = try column(name, what: "ignored") }
    let labels = try readTarget(csv, column: targetIndex, name: options.target, file: file, options: options)

    let reserved = Set([targetIndex] + [idIndex, splitIndex].compactMap { $0 })
    var featureColumns: [Int] = []
    var definitions: [FeatureDefinition] = []
    if let schema = options.schema {
      for feature in schema.customerFeatures {
        // A feature named after a column with other characters (emp.var.rate → emp_var_rate) is found by it.
        let renamed = header.indices.first { featureName(header[$0]) == feature.name && header[$0] != feature.name }
        let index = try header.contains(feature.name) || renamed == nil ? column(feature.name, what: "feature") : renamed!
        guard !reserved.contains(index) else {
          throw ArbiterError(.invalidArgument, "\(file): feature '\(feature.name)' is also the target, id or split column")
        }
        featureColumns.append(index)
        definitions.append(feature)
      }
    } else {
      var names = Set<String>()
      for (index, name) in header.enumerated() where !reserved.contains(index) && !options.ignored.contains(name) {
        let feature = featureName(name)
        guard names.insert(feature).inserted else {
          throw ArbiterError(.invalidArgument, "\(file): two columns are both named '\(feature)' as features")
        }
        let kind = try inferKind(csv, column: index, name: name, file: file, missing: options.missingValues)
        featureColumns.append(index)
        definitions.append(FeatureDefinition(name: feature, kind: kind, description: "column '\(name)' of \(file)"))
      }
    }
    guard !definitions.isEmpty else { throw ArbiterError(.invalidArgument, "\(file): no feature columns") }
    var columns: [[Float]] = []
    var report: [Inference.Column] = []
    for (index, definition) in zip(featureColumns, definitions) {
      let (values, missing) = try readColumn(
        csv, column: index, name: header[index], kind: definition.kind, file: file, missing: options.missingValues)
      columns.append(values)
      let kind: String
      switch definition.kind {
      case .numeric: kind = "numeric"
      case .boolean: kind = "boolean"
      case .categorical(let levels): kind = "categorical (\(levels.count) levels)"
      }
      report.append(Inference.Column(column: header[index], feature: definition.name, kind: kind, missing: missing))
    }
    let schema = FeatureSchema(customerFeatures: definitions, contextFeatures: [])
    try schema.validate()
    let table = LabelledTable(
      schema: schema, columns: columns, labels: labels.values, lines: csv.lineNumbers,
      ids: idIndex.map { i in csv.rows.map { $0[i] } }, splitKeys: splitIndex.map { i in csv.rows.map { $0[i] } })
    let leftOut = [options.idColumn, options.splitColumn].compactMap { $0 } + options.ignored.sorted()
    let inference = Inference(
      columns: report, positiveValue: labels.positive, negativeValue: labels.negative, leftOut: leftOut,
      delimiter: delimiter == 0x09 ? "\\t" : String(UnicodeScalar(delimiter)))
    return (table, inference)
  }

  /// The cell without leading and trailing spaces (checked first: most cells have none).
  @inline(__always)
  static func trimmed(_ cell: String) -> String {
    guard let first = cell.utf8.first, let last = cell.utf8.last else { return cell }
    if first != 0x20 && first != 0x09 && last != 0x20 && last != 0x09 { return cell }
    return cell.trimmingCharacters(in: .whitespaces)
  }

  /// A column name as a feature name: letters, digits and `_`, others as `_`.
  public static func featureName(_ column: String) -> String {
    String(column.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
  }

  static let trueWords: Set<String> = ["1", "yes", "true", "y", "t"]
  static let falseWords: Set<String> = ["0", "no", "false", "n", "f"]

  /// The target as booleans; refuses a missing cell, one value only, or more than two.
  static func readTarget(
    _ csv: CSVTable, column: Int, name: String, file: String, options: Options
  ) throws(ArbiterError) -> (values: [Bool], positive: String, negative: String) {
    var seen: [String] = []
    for (row, line) in zip(csv.rows, csv.lineNumbers) {
      let value = trimmed(row[column])
      guard !options.missingValues.contains(value) else {
        throw ArbiterError(.invalidArgument, "\(file):\(line): the target '\(name)' is missing")
      }
      if !seen.contains(value) {
        seen.append(value)
        if seen.count > 2 {
          throw ArbiterError(
            .invalidArgument,
            "\(file):\(line): the target '\(name)' has a third value '\(value)' after '\(seen[0])' and '\(seen[1])'; "
              + "a binary target has two")
        }
      }
    }
    guard seen.count == 2 else {
      throw ArbiterError(
        .invalidArgument, "\(file): the target '\(name)' is constant ('\(seen.first ?? "")' on every row); nothing to learn")
    }
    let positive: String
    if let given = options.positive {
      guard seen.contains(given) else {
        throw ArbiterError(
          .invalidArgument, "\(file): the positive value '\(given)' is not one of the target's ('\(seen[0])', '\(seen[1])')")
      }
      positive = given
    } else if let word = seen.first(where: { trueWords.contains($0.lowercased()) }),
      seen.contains(where: { $0 != word })
    {
      positive = word
    } else {
      throw ArbiterError(
        .invalidArgument,
        "\(file): cannot tell which of the target's values '\(seen[0])' and '\(seen[1])' is positive; give --positive")
    }
    let negative = seen.first { $0 != positive }!
    let values = csv.rows.map { $0[column].trimmingCharacters(in: .whitespaces) == positive }
    return (values, positive, negative)
  }

  /// A column's kind from its values: numbers (booleans when only 0 and 1), yes/no-like words
  /// (boolean), or text (categorical, levels sorted). Numbers mixed with text are refused,
  /// naming a line of each.
  static func inferKind(
    _ csv: CSVTable, column: Int, name: String, file: String, missing: Set<String>
  ) throws(ArbiterError) -> FeatureKind {
    var firstNumber: (line: Int, text: String)?
    var firstText: (line: Int, text: String)?
    var distinct = Set<String>()
    for (row, line) in zip(csv.rows, csv.lineNumbers) {
      let value = trimmed(row[column])
      if missing.contains(value) { continue }
      if distinct.count <= 100_000 { distinct.insert(value) }
      if Double(value) != nil {
        if firstNumber == nil { firstNumber = (line, value) }
      } else if firstText == nil {
        firstText = (line, value)
      }
    }
    if let number = firstNumber, let text = firstText {
      let wordsOnly = distinct.allSatisfy { trueWords.contains($0.lowercased()) || falseWords.contains($0.lowercased()) }
      if wordsOnly { return .boolean }
      throw ArbiterError(
        .invalidArgument,
        "\(file): column '\(name)' mixes numbers and text (line \(number.line): '\(number.text)', line \(text.line): "
          + "'\(text.text)'); give its kind in --schema, or name the text as missing with --missing")
    }
    if firstNumber != nil {
      return distinct.allSatisfy { Double($0) == 0 || Double($0) == 1 } && distinct.count == 2 ? .boolean : .numeric
    }
    if distinct.allSatisfy({ trueWords.contains($0.lowercased()) || falseWords.contains($0.lowercased()) }),
      distinct.count == 2
    {
      return .boolean
    }
    guard !distinct.isEmpty else {
      throw ArbiterError(.invalidArgument, "\(file): column '\(name)' is missing on every row; leave it out with --ignore")
    }
    return .categorical(levels: distinct.sorted())
  }

  /// A column's values as the store keeps them; refuses a value not of the kind, naming it.
  static func readColumn(
    _ csv: CSVTable, column: Int, name: String, kind: FeatureKind, file: String, missing: Set<String>
  ) throws(ArbiterError) -> (values: [Float], missing: Int) {
    var values: [Float] = []
    values.reserveCapacity(csv.rows.count)
    var missingCount = 0
    var levelIndex: [String: Float] = [:]
    if case .categorical(let levels) = kind {
      for (i, level) in levels.enumerated() { levelIndex[level] = Float(i) }
    }
    for (row, line) in zip(csv.rows, csv.lineNumbers) {
      let value = trimmed(row[column])
      if missing.contains(value) {
        values.append(.nan)
        missingCount += 1
        continue
      }
      switch kind {
      case .numeric:
        guard let number = Double(value), number.isFinite else {
          throw ArbiterError(.invalidArgument, "\(file):\(line): column '\(name)': '\(value)' is not a number")
        }
        values.append(Float(number))
      case .boolean:
        let word = value.lowercased()
        if trueWords.contains(word) {
          values.append(1)
        } else if falseWords.contains(word) {
          values.append(0)
        } else {
          throw ArbiterError(.invalidArgument, "\(file):\(line): column '\(name)': '\(value)' is not a boolean")
        }
      case .categorical(let levels):
        guard let index = levelIndex[value] else {
          let shown = levels.prefix(8).joined(separator: ", ") + (levels.count > 8 ? ", …" : "")
          throw ArbiterError(
            .invalidArgument, "\(file):\(line): column '\(name)': unknown level '\(value)' (the levels are \(shown))")
        }
        values.append(index)
      }
    }
    return (values, missingCount)
  }
}
