import Foundation

/// A model evaluation as one self-contained HTML page (inline CSS and SVG, no script, nothing
/// fetched), written for someone who has not read the code: every chart says in a sentence what
/// it shows and how to read it. One section per model (a bundle has one per offer).
public struct EvaluationReport: Sendable {
  /// One model's evaluation and what it is.
  public struct Section: Sendable {
    /// e.g. "model.txt" or an offer id.
    public var title: String
    /// e.g. "LightGBM text model, 100 trees".
    public var model: String
    public var evaluation: ModelEvaluation

    /// A section.
    public init(title: String, model: String, evaluation: ModelEvaluation) {
      self.title = title
      self.model = model
      self.evaluation = evaluation
    }
  }

  /// One uplift model's evaluation.
  public struct UpliftSection: Sendable {
    /// The section's title, e.g. the treatment and the outcome.
    public var title: String
    /// A line describing the model.
    public var model: String
    public var evaluation: UpliftEvaluation

    /// A section of an uplift model's evaluation.
    public init(title: String, model: String, evaluation: UpliftEvaluation) {
      self.title = title
      self.model = model
      self.evaluation = evaluation
    }
  }

  /// What was evaluated on, e.g. "bank.csv (8,238 rows)".
  public var data: String
  public var sections: [Section]
  /// Uplift models' evaluations, after the response models'.
  public var upliftSections: [UpliftSection] = []
  /// When it was made.
  public var created: Date

  /// A report of sections on data.
  public init(data: String, sections: [Section], created: Date = Date()) {
    self.data = data
    self.sections = sections
    self.created = created
  }

  static let blue = "#1d5fd1", grey = "#8a96a6", green = "#12773c", red = "#b3261e", navy = "#0f2742"

  /// The page.
  public func html() -> String {
    var title = sections.count == 1 ? "Model evaluation: \(sections[0].title)" : "Model evaluation: \(sections.count) models"
    if sections.isEmpty {
      title = upliftSections.count == 1
        ? "Uplift evaluation: \(upliftSections[0].title)" : "Uplift evaluation: \(upliftSections.count) models"
    }
    var page = """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
      <title>\(SVGChart.escape(title))</title>
      <style>\(Self.style)</style></head><body>
      <header><h1>\(SVGChart.escape(title))</h1>
      <p>On \(SVGChart.escape(data)). Made by <code>arbiter-tools \(sections.isEmpty ? "train-uplift" : "evaluate")</code> on \(Self.dateText(created)).</p></header>
      <main>
      """
    if sections.count > 1 {
      page += "<nav><h2>Models</h2><table><tr><th>model</th><th>rows</th><th>AUC</th><th>log-loss</th></tr>"
      for (k, section) in sections.enumerated() {
        let e = section.evaluation
        page += "<tr><td><a href=\"#m\(k)\">\(SVGChart.escape(section.title))</a></td><td>\(e.rows)</td>"
          + "<td>\(Self.number(e.auc, 3))</td><td>\(Self.number(e.logLoss, 4))</td></tr>"
      }
      page += "</table></nav>"
    }
    for (k, section) in sections.enumerated() { page += self.section(section, anchor: "m\(k)") }
    for (k, section) in upliftSections.enumerated() { page += upliftSection(section, anchor: "u\(k)") }
    page += "</main></body></html>\n"
    return page
  }

  func section(_ section: Section, anchor: String) -> String {
    let e = section.evaluation
    let rate = e.rows == 0 ? 0 : Double(e.positives) / Double(e.rows)
    var html = "<section id=\"\(anchor)\"><h2>\(SVGChart.escape(section.title))</h2>"
    html += "<p class=\"model\">\(SVGChart.escape(section.model))</p><div class=\"cards\">"
    for (label, value, help) in [
      ("AUC", Self.number(e.auc, 3), "chance a random positive scores above a random negative; 0.5 is guessing"),
      ("Average precision", Self.number(e.averagePrecision, 3), "precision averaged over recall; \(Self.percent(rate)) is guessing"),
      ("Log-loss", Self.number(e.logLoss, 4), "lower is better"),
      ("Brier score", Self.number(e.brierScore, 4), "mean squared error of the probability; lower is better"),
      ("Rows", "\(e.rows)", "\(e.positives) positive (\(Self.percent(rate)))"),
    ] {
      html += "<div class=\"card\"><div class=\"label\">\(label)</div><div class=\"value\">\(value)</div>"
        + "<div class=\"help\">\(SVGChart.escape(help))</div></div>"
    }
    html += "</div><div class=\"grid\">"
    html += figure(
      "ROC curve", rocChart(e),
      "Each point is a threshold: the share of positives caught against the share of negatives wrongly flagged. "
        + "The higher and further left, the better; the dashed diagonal is guessing. The area under it is the AUC, "
        + Self.number(e.auc, 3) + ".")
    html += figure(
      "Precision and recall", precisionRecallChart(e, rate: rate),
      "How many of those flagged are positive (precision) as more of the positives are caught (recall). "
        + "The dashed line is the positive rate, what flagging at random gives.")
    html += figure(
      "Cumulative gain", gainChart(e),
      "Contacting the top-scored customers first: the share of all positives reached against the share of customers "
        + "contacted. " + gainSentence(e))
    html += figure(
      "Lift by decile", liftChart(e),
      "How many times the positive rate of the top deciles (cumulative) beats the overall rate; 1 is no better than random.")
    html += figure(
      "Reliability", reliabilityChart(e),
      "Customers grouped by their predicted probability: the predicted against the observed rate. A well-calibrated "
        + "model lies on the diagonal. Brier score " + Self.number(e.brierScore, 4) + ".")
    html += figure(
      "Scores by class", scoreChart(e),
      "The spread of predicted probabilities for positives and for negatives, each as a share of its class. "
        + "The less they overlap, the better the model separates them.")
    html += "</div>"
    html += importanceSection(e)
    html += decileTable(e)
    return html + "</section>"
  }

  func upliftSection(_ section: UpliftSection, anchor: String) -> String {
    let e = section.evaluation
    var html = "<section id=\"\(anchor)\"><h2>\(SVGChart.escape(section.title))</h2>"
    html += "<p class=\"model\">\(SVGChart.escape(section.model))</p><div class=\"cards\">"
    for (label, value, help) in [
      ("Qini coefficient", Self.number(e.qiniCoefficient, 4), "area between the Qini curve and random, over the perfect model's"),
      ("Uplift in the top 30%", Self.points(e.upliftAt30), "treated minus control response rate among the 30% predicted best"),
      ("Average effect", Self.points(e.averageEffect), "treated minus control response rate, everyone"),
      ("Treated", "\(e.treatedRows)", "held-out rows given the treatment"),
      ("Control", "\(e.controlRows)", "held-out rows not given it"),
    ] {
      html += "<div class=\"card\"><div class=\"label\">\(label)</div><div class=\"value\">\(value)</div>"
        + "<div class=\"help\">\(SVGChart.escape(help))</div></div>"
    }
    html += "</div><div class=\"grid\">"
    html += figure(
      "Qini curve", qiniChart(e),
      "Targeting the customers with the highest predicted uplift first: the incremental responders gained (treated "
        + "responders minus control responders scaled to as many customers) against the share targeted. Random "
        + "targeting is the straight line; the perfect model first takes every treated responder, last every control "
        + "responder. Qini coefficient " + Self.number(e.qiniCoefficient, 4) + ".")
    html += figure(
      "Observed uplift by decile", upliftDecileChart(e),
      "Held-out customers in ten groups by predicted uplift, best first: the treated response rate minus the "
        + "control's in each, in percentage points. A good model's bars fall from left to right.")
    html += "</div><h3>Deciles</h3><table class=\"deciles\"><tr><th>decile</th><th>treated</th><th>control</th>"
      + "<th>treated rate</th><th>control rate</th><th>observed uplift</th><th>predicted uplift</th></tr>"
    for (k, d) in e.deciles.enumerated() {
      html += "<tr><td>\(k + 1)</td><td>\(d.treated)</td><td>\(d.control)</td><td>\(Self.percent(d.treatedRate))</td>"
        + "<td>\(Self.percent(d.controlRate))</td><td>\(Self.points(d.uplift))</td><td>\(Self.points(d.predicted))</td></tr>"
    }
    return html + "</table></section>"
  }

  func qiniChart(_ e: UpliftEvaluation) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "share of customers targeted, highest predicted uplift first"
    chart.yLabel = "incremental responders"
    chart.percentX = true
    let values = (e.curve + e.perfect).map(\.y)
    chart.yRange = Self.fiveTicks(low: min(0, values.min() ?? 0), high: max(1, values.max() ?? 1))
    let end = e.perfect.last?.y ?? 0
    chart.lines = [
      .init(name: "perfect", color: Self.green, points: e.perfect, dashed: true),
      .init(name: "random", color: Self.grey, points: [.init(x: 0, y: 0), .init(x: 1, y: end)], dashed: true),
      .init(name: "model", color: Self.blue, points: e.curve),
    ]
    return chart
  }

  func upliftDecileChart(_ e: UpliftEvaluation) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "decile of predicted uplift (1 = highest)"
    chart.yLabel = "observed uplift, percentage points"
    let values = e.deciles.map { $0.uplift * 100 }.filter(\.isFinite)
    chart.yRange = Self.fiveTicks(low: min(0, values.min() ?? 0), high: max(0.5, values.max() ?? 0.5))
    chart.bars = e.deciles.enumerated().map { k, d in
      .init(label: "\(k + 1)", value: d.uplift * 100, color: d.uplift >= 0 ? Self.blue : Self.red)
    }
    chart.lines = [
      .init(name: "average", color: Self.grey, points: [.init(x: 0, y: e.averageEffect * 100), .init(x: 1, y: e.averageEffect * 100)], dashed: true)
    ]
    return chart
  }

  /// A range from below `low` to above `high` whose five tick steps are round (1, 2, 2.5 or 5 × 10ⁿ).
  static func fiveTicks(low: Double, high: Double) -> ClosedRange<Double> {
    var step = pow(10, (log10(max(high - low, 1e-9) / 5)).rounded(.down))
    for factor in [1.0, 2, 2.5, 5, 10, 20] {
      let candidate = step * factor
      let bottom = (low / candidate).rounded(.down) * candidate
      if bottom + 5 * candidate >= high {
        step = candidate
        break
      }
    }
    let bottom = (low / step).rounded(.down) * step
    return bottom...(bottom + 5 * step)
  }

  static func points(_ value: Double) -> String {
    value.isFinite ? String(format: "%+.2f pp", value * 100) : "–"
  }

  func figure(_ title: String, _ chart: SVGChart, _ explanation: String) -> String {
    var chart = chart
    chart.summary = title
    return "<figure><h3>\(title)</h3>\(chart.render())<figcaption>\(SVGChart.escape(explanation))</figcaption></figure>"
  }

  func gainSentence(_ e: ModelEvaluation) -> String {
    guard e.deciles.count == 10 else { return "" }
    return "The top 10% of scores hold \(Self.percent(e.deciles[0].cumulativeGain)) of the positives, the top 30% "
      + "\(Self.percent(e.deciles[2].cumulativeGain))."
  }

  func rocChart(_ e: ModelEvaluation) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "false positive rate"
    chart.legendBelow = true
    chart.yLabel = "true positive rate (recall)"
    chart.percentX = true
    chart.percentY = true
    chart.lines = [
      .init(name: "guessing", color: Self.grey, points: [.init(x: 0, y: 0), .init(x: 1, y: 1)], dashed: true),
      .init(name: "model", color: Self.blue, points: e.roc),
    ]
    return chart
  }

  func precisionRecallChart(_ e: ModelEvaluation, rate: Double) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "recall"
    chart.yLabel = "precision"
    chart.percentX = true
    chart.percentY = true
    chart.lines = [
      .init(name: "guessing", color: Self.grey, points: [.init(x: 0, y: rate), .init(x: 1, y: rate)], dashed: true),
      .init(name: "model", color: Self.blue, points: e.precisionRecall),
    ]
    return chart
  }

  func gainChart(_ e: ModelEvaluation) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "share of customers contacted, best scores first"
    chart.legendBelow = true
    chart.yLabel = "share of positives reached"
    chart.percentX = true
    chart.percentY = true
    let rate = e.rows == 0 ? 1 : Double(e.positives) / Double(e.rows)
    chart.lines = [
      .init(name: "perfect", color: Self.green, points: [.init(x: 0, y: 0), .init(x: rate, y: 1), .init(x: 1, y: 1)], dashed: true),
      .init(name: "random", color: Self.grey, points: [.init(x: 0, y: 0), .init(x: 1, y: 1)], dashed: true),
      .init(
        name: "model", color: Self.blue,
        points: [.init(x: 0, y: 0)] + e.deciles.map { .init(x: Double($0.decile) / 10, y: $0.cumulativeGain) }, dots: true),
    ]
    return chart
  }

  func liftChart(_ e: ModelEvaluation) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "decile (1 = top 10% of scores)"
    chart.yLabel = "cumulative lift"
    let top = max(2, (e.deciles.map(\.cumulativeLift).max() ?? 1).rounded(.up))
    chart.yRange = 0...top
    chart.bars = e.deciles.map { .init(label: "\($0.decile)", value: $0.cumulativeLift, color: Self.blue) }
    chart.lines = [.init(name: "random", color: Self.grey, points: [.init(x: 0, y: 1), .init(x: 1, y: 1)], dashed: true)]
    return chart
  }

  func reliabilityChart(_ e: ModelEvaluation) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "predicted probability"
    chart.yLabel = "observed positive rate"
    chart.legendBelow = true
    chart.percentX = true
    chart.percentY = true
    let used = e.reliability.filter { $0.rows > 0 }
    let largest = used.map { max($0.meanPredicted, $0.observedRate) }.max() ?? 1
    let top = [0.1, 0.2, 0.25, 0.5, 1.0].first { $0 >= largest } ?? 1
    chart.xRange = 0...top
    chart.yRange = 0...top
    chart.lines = [
      .init(name: "perfectly calibrated", color: Self.grey, points: [.init(x: 0, y: 0), .init(x: top, y: top)], dashed: true),
      .init(name: "model", color: Self.blue, points: used.map { .init(x: $0.meanPredicted, y: $0.observedRate) }, dots: true),
    ]
    return chart
  }

  func scoreChart(_ e: ModelEvaluation) -> SVGChart {
    var chart = SVGChart()
    chart.xLabel = "predicted probability"
    chart.yLabel = "share of the class"
    chart.percentX = true
    chart.percentY = true
    func shares(_ counts: [Int]) -> [ModelEvaluation.Point] {
      let total = Double(max(1, counts.reduce(0, +)))
      var points: [ModelEvaluation.Point] = []
      for (k, count) in counts.enumerated() {
        points.append(.init(x: Double(k) / 20, y: Double(count) / total))
        points.append(.init(x: Double(k + 1) / 20, y: Double(count) / total))
      }
      return points
    }
    let positives = shares(e.positiveScores), negatives = shares(e.negativeScores)
    let top = max(0.1, ((positives + negatives).map(\.y).max() ?? 1) * 1.1)
    chart.yRange = 0...min(1, (top * 10).rounded(.up) / 10)
    chart.lines = [
      .init(name: "negatives", color: Self.red, points: negatives),
      .init(name: "positives", color: Self.green, points: positives),
    ]
    return chart
  }

  func importanceSection(_ e: ModelEvaluation) -> String {
    guard !e.importance.isEmpty else { return "" }
    let shown = Array(e.importance.prefix(20))
    var html = "<div class=\"grid\">"
    if shown.contains(where: { $0.meanAbsoluteSHAP != nil }) {
      var chart = SVGChart()
      chart.height = Double(40 + 22 * shown.count)
      chart.xLabel = "mean |SHAP| (log-odds)"
      chart.horizontalBars = shown.map { .init(label: $0.feature, value: $0.meanAbsoluteSHAP ?? 0, color: Self.blue) }
      html += figure(
        "Feature importance by mean |SHAP|", chart,
        "How far each feature moves a customer's log-odds from the average, on average over \(e.explainedRows) rows "
          + "(\(e.contributionMethod)). The features at the top drive the model's scores the most.")
    }
    let byGain = e.importance.filter { $0.gain != nil }.sorted { $0.gain! > $1.gain! }.prefix(20)
    if !byGain.isEmpty {
      var chart = SVGChart()
      chart.height = Double(40 + 22 * byGain.count)
      chart.xLabel = "total gain of its splits"
      chart.horizontalBars = byGain.map { .init(label: $0.feature, value: $0.gain!, color: Self.navy) }
      html += figure(
        "Feature importance by gain", chart,
        "How much each feature's splits reduced the training loss in total. Gain favours features with many values; "
          + "SHAP says what the model does with them.")
    }
    return html + "</div>"
  }

  func decileTable(_ e: ModelEvaluation) -> String {
    guard !e.deciles.isEmpty else { return "" }
    var html = "<h3>Deciles</h3><table class=\"deciles\"><tr><th>decile</th><th>rows</th><th>positives</th>"
      + "<th>positive rate</th><th>cumulative gain</th><th>cumulative lift</th></tr>"
    for d in e.deciles {
      html += "<tr><td>\(d.decile)</td><td>\(d.rows)</td><td>\(d.positives)</td><td>\(Self.percent(d.rate))</td>"
        + "<td>\(Self.percent(d.cumulativeGain))</td><td>\(Self.number(d.cumulativeLift, 2))</td></tr>"
    }
    return html + "</table>"
  }

  static func number(_ value: Double, _ digits: Int) -> String {
    value.isFinite ? String(format: "%.\(digits)f", value) : "–"
  }

  static func percent(_ value: Double) -> String { value.isFinite ? String(format: "%.1f%%", value * 100) : "–" }

  static func dateText(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withFullDate]
    return formatter.string(from: date)
  }

  static let style = """
    :root{--ink:#14202e;--muted:#5b6878;--line:#d9dfe7;--bg:#eef1f5;--card:#fff;--brand:#0f2742;--accent:#1d5fd1}
    *{box-sizing:border-box}body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--ink);background:var(--bg)}
    header{background:var(--brand);color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:22px}header p{margin:0;opacity:.85}
    main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}section{margin-bottom:40px}
    h2{font-size:20px;margin:8px 0 2px}h3{font-size:15px;margin:0 0 6px}.model{color:var(--muted);margin:0 0 14px}
    .cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin-bottom:16px}
    .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
    .card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
    .card .value{font-size:26px;font-weight:600;margin:2px 0}.card .help{font-size:12px;color:var(--muted)}
    .grid{display:grid;grid-template-columns:repeat(2,1fr);gap:16px;margin-bottom:16px}
    figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px}
    figcaption{font-size:13px;color:var(--muted);margin-top:6px;line-height:1.45}
    svg.chart{width:100%;height:auto;display:block}svg .plot{fill:#fbfcfe;stroke:var(--line)}svg .grid{stroke:#e6eaf0}
    svg .tick{font-size:11px;fill:var(--muted)}svg .axis{font-size:12px;fill:var(--ink)}svg .legend{font-size:11px;fill:var(--ink)}
    table{border-collapse:collapse;background:var(--card);border:1px solid var(--line);font-size:13px}
    th,td{padding:6px 12px;border-bottom:1px solid var(--line);text-align:right}th{background:#f5f7fa}
    td:first-child,th:first-child{text-align:left}nav{margin-bottom:24px}a{color:var(--accent)}
    @media (max-width:800px){.cards{grid-template-columns:repeat(2,1fr)}.grid{grid-template-columns:1fr}}
    """
}
