/// How well predicted uplift ranks customers by the real incremental effect, on held-out rows of a
/// randomised campaign: the Qini curve (incremental responders as more customers are targeted,
/// best-predicted first), its coefficient, the uplift in the top 30%, and the observed uplift by
/// decile. Computed as scikit-uplift computes them (`qini_curve`, `qini_auc_score` with negative
/// effects, `uplift_at_k` overall, `uplift_by_percentile`), so that `tools/uplift-reference.py`
/// can check them to 1e-9.
public struct UpliftEvaluation: Sendable, Codable {
  /// One tenth of the rows, best-predicted first.
  public struct Decile: Sendable, Codable, Hashable {
    public var treated: Int
    public var control: Int
    public var treatedRate: Double
    public var controlRate: Double
    /// The observed uplift: treated rate minus control rate.
    public var uplift: Double
    /// The mean predicted uplift.
    public var predicted: Double
  }

  public var rows: Int
  public var treatedRows: Int
  public var controlRows: Int
  /// The observed uplift over all rows (treated rate minus control rate).
  public var averageEffect: Double
  /// The area between the Qini curve and the random line over the perfect model's; 0 is random.
  public var qiniCoefficient: Double
  /// Treated rate minus control rate among the top 30% by predicted uplift.
  public var upliftAt30: Double
  /// The Qini curve: share of rows targeted against incremental responders.
  public var curve: [ModelEvaluation.Point]
  /// The perfect model's curve.
  public var perfect: [ModelEvaluation.Point]
  public var deciles: [Decile]

  /// Evaluates predicted `uplift` against each row's arm and outcome.
  public static func evaluate(uplift: [Double], treated: [Bool], outcome: [Bool]) -> UpliftEvaluation {
    precondition(uplift.count == treated.count && treated.count == outcome.count && !uplift.isEmpty)
    let n = uplift.count
    let treatedRows = treated.lazy.filter { $0 }.count
    let t = treated.indices.filter { treated[$0] }, c = treated.indices.filter { !treated[$0] }
    let rate = { (rows: [Int]) -> Double in Double(rows.lazy.filter { outcome[$0] }.count) / Double(rows.count) }
    let actual = qiniCurve(uplift: uplift, treated: treated, outcome: outcome)
    let ideal = qiniCurve(
      uplift: (0..<n).map { outcome[$0] ? (treated[$0] ? 1 : -1) : 0 }, treated: treated, outcome: outcome)
    let baseline = [(0.0, 0.0), (ideal.last!.0, ideal.last!.1)]
    let baseArea = trapezoid(baseline)
    let coefficient = (trapezoid(actual) - baseArea) / (trapezoid(ideal) - baseArea)
    let order = descending(uplift)
    let top = Array(order.prefix(Int(Double(n) * 0.3)))
    let topTreated = top.filter { treated[$0] }, topControl = top.filter { !treated[$0] }
    let total = Double(n)
    return UpliftEvaluation(
      rows: n, treatedRows: treatedRows, controlRows: n - treatedRows, averageEffect: rate(t) - rate(c),
      qiniCoefficient: coefficient, upliftAt30: rate(topTreated) - rate(topControl),
      curve: ModelEvaluation.thinned(actual.map { ModelEvaluation.Point(x: $0.0 / total, y: $0.1) }),
      perfect: ModelEvaluation.thinned(ideal.map { ModelEvaluation.Point(x: $0.0 / total, y: $0.1) }),
      deciles: deciles(order: order, uplift: uplift, treated: treated, outcome: outcome))
  }

  /// Row indices by predicted uplift, highest first; ties in descending index order (numpy's
  /// stable ascending sort, reversed).
  static func descending(_ scores: [Double]) -> [Int] {
    scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 > $1 }
  }

  /// The Qini curve's points (rows targeted, incremental responders) at each distinct score,
  /// from (0, 0): responders among the treated minus those among the control scaled by the
  /// treated-to-control ratio so far.
  static func qiniCurve(uplift: [Double], treated: [Bool], outcome: [Bool]) -> [(Double, Double)] {
    let order = descending(uplift)
    var points: [(Double, Double)] = [(0, 0)]
    var treatedSoFar = 0, controlSoFar = 0, treatedResponders = 0, controlResponders = 0
    for (position, row) in order.enumerated() {
      if treated[row] {
        treatedSoFar += 1
        if outcome[row] { treatedResponders += 1 }
      } else {
        controlSoFar += 1
        if outcome[row] { controlResponders += 1 }
      }
      let last = position == order.count - 1
      guard last || uplift[order[position + 1]] != uplift[row] else { continue }
      let ratio = controlSoFar == 0 ? 0 : Double(treatedSoFar) / Double(controlSoFar)
      points.append((Double(position + 1), Double(treatedResponders) - Double(controlResponders) * ratio))
    }
    return points
  }

  /// The area under points joined by straight lines.
  static func trapezoid(_ points: [(Double, Double)]) -> Double {
    var area = 0.0
    for i in 1..<points.count { area += (points[i].0 - points[i - 1].0) * (points[i].1 + points[i - 1].1) / 2 }
    return area
  }

  /// Ten groups of the ordered rows (the first n mod 10 one larger, as numpy's `array_split`).
  static func deciles(order: [Int], uplift: [Double], treated: [Bool], outcome: [Bool]) -> [Decile] {
    let n = order.count
    var start = 0
    return (0..<10).map { k in
      let size = n / 10 + (k < n % 10 ? 1 : 0)
      let rows = order[start..<(start + size)]
      start += size
      let t = rows.filter { treated[$0] }, c = rows.filter { !treated[$0] }
      let treatedRate = t.isEmpty ? Double.nan : Double(t.lazy.filter { outcome[$0] }.count) / Double(t.count)
      let controlRate = c.isEmpty ? Double.nan : Double(c.lazy.filter { outcome[$0] }.count) / Double(c.count)
      let predicted = rows.isEmpty ? Double.nan : rows.reduce(0) { $0 + uplift[$1] } / Double(rows.count)
      return Decile(
        treated: t.count, control: c.count, treatedRate: treatedRate, controlRate: controlRate,
        uplift: treatedRate - controlRate, predicted: predicted)
    }
  }
}
