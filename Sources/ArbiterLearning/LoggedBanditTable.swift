import ArbiterCore
import Foundation

/// A campaign's or experiment's log as a warehouse exports it: one row per decision with the
/// customer's features, the action taken, the probability it was taken with (a column, or one
/// probability for a uniform randomisation), the binary reward that followed and optionally the
/// group (e.g. the channel) it is reported in.
public struct LoggedBanditTable: Sendable {
  /// Which columns mean what.
  public struct Options: Sendable {
    /// The action taken.
    public var actionColumn: String
    /// The reward: two values, as a training target.
    public var rewardColumn: String
    /// The reward's positive value (inferred as for a training target when nil).
    public var positive: String?
    /// The column with each row's logged probability; nil to use `probability`.
    public var probabilityColumn: String?
    /// One probability for every row (a uniform randomisation), when there is no column.
    public var probability: Double?
    /// The column whose values group the report (nil: one group, "all").
    public var groupColumn: String?
    /// Other columns that are not features (other outcomes, ids).
    public var ignored: Set<String> = []

    /// Options naming the action and reward columns.
    public init(actionColumn: String, rewardColumn: String) {
      self.actionColumn = actionColumn
      self.rewardColumn = rewardColumn
    }
  }

  /// The features and, as labels, the rewards.
  public var table: LabelledTable
  /// Each row's action, as an index into `actionNames`.
  public var actions: [Int]
  /// The actions, in name order.
  public var actionNames: [String]
  /// Each row's logged probability.
  public var loggedProbabilities: [Double]
  /// Each row's group.
  public var groups: [String]

  /// Reads the file at `path`.
  public static func read(
    path: String, options: Options
  ) throws(ArbiterError) -> (
    LoggedBanditTable, TableReader.Inference
  ) {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ArbiterError(.notFound, "\(path): cannot be read as UTF-8 text (\(error.localizedDescription))")
    }
    return try read(text: text, file: (path as NSString).lastPathComponent, options: options)
  }

  /// Reads CSV text; `file` names it in messages. Refuses, naming the line: an empty action, a
  /// probability that is not a number in (0, 1]; and neither or both of a probability column and
  /// a probability.
  public static func read(
    text: String, file: String, options: Options
  ) throws(ArbiterError) -> (
    LoggedBanditTable, TableReader.Inference
  ) {
    guard (options.probabilityColumn == nil) != (options.probability == nil) else {
      throw ArbiterError(
        .invalidArgument, "give either the logged probabilities' column or one logged probability for every row")
    }
    if let p = options.probability, !(p > 0 && p <= 1) {
      throw ArbiterError(.invalidArgument, "the logged probability \(p) is not in (0, 1]")
    }
    var reading = TableReader.Options(target: options.rewardColumn)
    reading.positive = options.positive
    reading.ignored = options.ignored.union([options.actionColumn])
    if let column = options.probabilityColumn { reading.ignored.insert(column) }
    let (table, inference) = try TableReader.read(text: text, file: file, options: reading)
    let csv = try CSVTable(text: text, file: file, delimiter: CSVTable.likelyDelimiter(of: text[...]))
    let header = csv.header.map { $0.trimmingCharacters(in: .whitespaces) }
    func index(_ name: String) throws(ArbiterError) -> Int {
      guard let index = header.firstIndex(of: name) else {
        throw ArbiterError(
          .invalidArgument, "\(file): no column '\(name)' in the header (\(header.joined(separator: ", ")))")
      }
      return index
    }
    let actionIndex = try index(options.actionColumn)
    let probabilityIndex = try options.probabilityColumn.map { name throws(ArbiterError) in try index(name) }
    let groupIndex = try options.groupColumn.map { name throws(ArbiterError) in try index(name) }
    var names: [String] = []
    var probabilities: [Double] = []
    var groups: [String] = []
    for (row, cells) in csv.rows.enumerated() {
      let at = "\(file):\(csv.lineNumbers[row])"
      let action = TableReader.trimmed(cells[actionIndex])
      guard !action.isEmpty else {
        throw ArbiterError(.invalidArgument, "\(at): no action in '\(options.actionColumn)'")
      }
      names.append(action)
      if let probabilityIndex {
        let cell = TableReader.trimmed(cells[probabilityIndex])
        guard let p = Double(cell), p > 0, p <= 1 else {
          throw ArbiterError(
            .invalidArgument,
            "\(at): the logged probability '\(cell)' in '\(options.probabilityColumn!)' is not in (0, 1]")
        }
        probabilities.append(p)
      } else {
        probabilities.append(options.probability!)
      }
      groups.append(groupIndex.map { TableReader.trimmed(cells[$0]) } ?? "all")
    }
    let actionNames = Set(names).sorted()
    let code = Dictionary(uniqueKeysWithValues: actionNames.enumerated().map { ($1, $0) })
    let bandit = LoggedBanditTable(
      table: table, actions: names.map { code[$0]! }, actionNames: actionNames, loggedProbabilities: probabilities,
      groups: groups)
    return (bandit, inference)
  }

  /// The rounds of a candidate policy, given each row's predicted reward of each action
  /// (`predictions[row][action]`, e.g. from ``CrossFittedRewards``).
  public func rounds(policy: RulePolicy, predictions: [[Double]]) -> [PolicyRound] {
    let code = Dictionary(uniqueKeysWithValues: actionNames.enumerated().map { ($1, $0) })
    var vector = [Float](repeating: 0, count: table.featureCount)
    let none = [Float]()
    return (0..<table.rowCount).map { row in
      for f in 0..<table.featureCount { vector[f] = table.columns[f][row] }
      let choices = vector.withUnsafeBufferPointer { customer in
        none.withUnsafeBufferPointer { policy.choices(customer: customer, context: $0) }
      }
      var target = 0.0
      var value = 0.0
      for choice in choices {
        let action = code[choice.action]!
        if action == actions[row] { target += choice.probability }
        value += choice.probability * predictions[row][action]
      }
      return PolicyRound(
        group: groups[row], loggedProbability: loggedProbabilities[row], reward: table.labels[row] ? 1 : 0,
        targetProbability: target, predictedReward: predictions[row][actions[row]], predictedTargetValue: value)
    }
  }
}
