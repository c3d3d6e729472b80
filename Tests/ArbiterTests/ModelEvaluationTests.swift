import ArbiterCore
import ArbiterLearning
import Foundation
import Testing

/// The evaluation report's numbers on a case worked by hand, and the page itself: self-contained
/// (no script, nothing fetched), every chart present with its explanation.
@Suite struct ModelEvaluationTests {
  static let probabilities = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
  static let labels = [true, true, false, true, false, false, true, false, false, false]

  @Test func theMetricsMatchAWorkedExample() {
    let e = ModelEvaluation(probabilities: Self.probabilities, labels: Self.labels)
    #expect(e.rows == 10 && e.positives == 4)
    // Positives at ranks 1, 2, 4 and 7 have 6, 6, 5 and 3 of the 6 negatives below them.
    #expect(abs(e.auc - 20.0 / 24.0) < 1e-12)
    // Precision at each positive: 1/1, 2/2, 3/4, 4/7.
    #expect(abs(e.averagePrecision - (1 + 1 + 0.75 + 4.0 / 7.0) / 4) < 1e-12)
    #expect(e.roc.first == ModelEvaluation.Point(x: 0, y: 0) && e.roc.last == ModelEvaluation.Point(x: 1, y: 1))
    #expect(e.deciles.map(\.positives) == [1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
    #expect(e.deciles.last?.cumulativeGain == 1)
    #expect(abs(e.deciles[0].cumulativeLift - 2.5) < 1e-12)
    #expect(e.reliability[9].rows == 1 && e.reliability[9].observedRate == 1)
    #expect(e.positiveScores.reduce(0, +) == 4 && e.negativeScores.reduce(0, +) == 6)
    let perfect = ModelEvaluation(probabilities: Self.labels.map { $0 ? 1 : 0 }, labels: Self.labels)
    #expect(perfect.brierScore == 0 && perfect.auc == 1)
  }

  @Test func theReportIsOnePageWithEveryChartAndNothingFetched() {
    let importance = [
      ModelEvaluation.Importance(feature: "age", gain: 120, splits: 9, meanAbsoluteSHAP: 0.3),
      ModelEvaluation.Importance(feature: "income<€>", gain: 40, splits: 3, meanAbsoluteSHAP: 0.1),
    ]
    let e = ModelEvaluation(
      probabilities: Self.probabilities, labels: Self.labels, importance: importance, explainedRows: 10)
    let html = EvaluationReport(
      data: "t.csv (10 rows)", sections: [.init(title: "model.txt", model: "LightGBM text model", evaluation: e)]
    ).html()
    for title in [
      "ROC curve", "Precision and recall", "Cumulative gain", "Lift by decile", "Reliability", "Scores by class",
      "Feature importance by mean |SHAP|", "Feature importance by gain",
    ] {
      #expect(html.contains("<h3>\(title)</h3><svg"), "\(title)")
    }
    #expect(html.components(separatedBy: "<figcaption>").count - 1 == 8)
    #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("<link"))
    // Nothing is fetched: the SVG namespace is the only address on the page.
    #expect(!html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"))
    #expect(html.contains("income&lt;€&gt;") && !html.contains("income<€>"))
    #expect(html.contains("0.833"))
  }
}
