import ArbiterCore
import Foundation

/// A randomised campaign's export for uplift modelling: each row's features, whether the customer
/// was treated (got the offer) or in the control group, and the binary outcome. Rows of other
/// arms (another treatment of the same test) are left out and counted.
public struct UpliftTable: Sendable {
  /// Which column means what.
  public struct Options: Sendable {
    /// The column naming each row's arm.
    public var treatmentColumn: String
    /// The arm value of the treated rows.
    public var treatedValue: String
    /// The arm value of the control rows.
    public var controlValue: String
    /// The binary outcome.
    public var target: String
    /// The outcome's positive value (inferred as for a training target when nil).
    public var positive: String?
    /// Other columns that are not features.
    public var ignored: Set<String> = []

    /// Options naming the arm column, its two values and the outcome.
    public init(treatmentColumn: String, treatedValue: String, controlValue: String, target: String) {
      self.treatmentColumn = treatmentColumn
      self.treatedValue = treatedValue
      self.controlValue = controlValue
      self.target = target
    }
  }

  /// The features and outcomes of the rows kept.
  public var table: LabelledTable
  /// Per row: treated (true) or control.
  public var treated: [Bool]
  /// Rows of other arms, left out.
  public var otherArms: Int

  /// The rows at `indices`.
  public func rows(_ indices: [Int]) -> UpliftTable {
    UpliftTable(table: table.rows(indices), treated: indices.map { treated[$0] }, otherArms: 0)
  }

  /// Reads the file at `path`; refuses, naming the column, a table without both arms.
  public static func read(path: String, options: Options) throws(ArbiterError) -> (UpliftTable, TableReader.Inference) {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ArbiterError(.notFound, "\(path): cannot be read as UTF-8 text (\(error.localizedDescription))")
    }
    let file = (path as NSString).lastPathComponent
    var reading = TableReader.Options(target: options.target)
    reading.positive = options.positive
    reading.ignored = options.ignored.union([options.treatmentColumn])
    let (table, inference) = try TableReader.read(text: text, file: file, options: reading)
    let csv = try CSVTable(text: text, file: file, delimiter: CSVTable.likelyDelimiter(of: text[...]))
    let column = try csv.column(options.treatmentColumn, file: file)
    var kept: [Int] = []
    var treated: [Bool] = []
    for (row, cells) in csv.rows.enumerated() {
      switch TableReader.trimmed(cells[column]) {
      case options.treatedValue:
        kept.append(row)
        treated.append(true)
      case options.controlValue:
        kept.append(row)
        treated.append(false)
      default: continue
      }
    }
    let treatedCount = treated.lazy.filter { $0 }.count
    guard treatedCount > 0, treatedCount < treated.count else {
      throw ArbiterError(
        .invalidArgument,
        "\(file): '\(options.treatmentColumn)' has \(treatedCount) rows of '\(options.treatedValue)' and "
          + "\(treated.count - treatedCount) of '\(options.controlValue)'; uplift needs both")
    }
    return (UpliftTable(table: table.rows(kept), treated: treated, otherArms: csv.rows.count - kept.count), inference)
  }
}
