/// A chart drawn as inline SVG (no script, no external file): axes with ticks and grid lines,
/// line series (optionally dashed, with dots), vertical or horizontal bars, and a legend. Used by
/// the workbench's HTML reports so that they open anywhere, offline.
struct SVGChart {
  /// A line through points, in data coordinates.
  struct Line {
    var name: String
    var color: String
    var points: [ModelEvaluation.Point]
    var dashed = false
    var dots = false
  }

  /// A bar at a category.
  struct Bar {
    var label: String
    var value: Double
    var color: String
  }

  var width = 520.0
  var height = 330.0
  var xLabel = ""
  var yLabel = ""
  var xRange = 0.0...1.0
  var yRange = 0.0...1.0
  var lines: [Line] = []
  /// Vertical bars, one per label along x (x range ignored).
  var bars: [Bar] = []
  /// Horizontal bars, one per label down y (y range ignored).
  var horizontalBars: [Bar] = []
  /// The legend in the lower right corner (for curves that rise to the upper right).
  var legendBelow = false
  var percentX = false
  var percentY = false
  /// A description for screen readers.
  var summary = ""

  let left = 62.0, right = 16.0, top = 14.0, bottom = 46.0

  var plotWidth: Double { width - left - right }
  var plotHeight: Double { height - top - bottom }

  func x(_ value: Double) -> Double { left + (value - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * plotWidth }
  func y(_ value: Double) -> Double {
    top + plotHeight - (value - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * plotHeight
  }

  static func f(_ value: Double) -> String { String(format: "%.1f", value) }
  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  func tickText(_ value: Double, percent: Bool) -> String {
    if percent { return "\(Int((value * 100).rounded()))%" }
    if value == value.rounded() || abs(value) >= 1_000 { return String(format: "%.0f", value) }
    return String(format: "%.1f", value)
  }

  func render() -> String {
    let f = Self.f
    var svg =
      "<svg class=\"chart\" viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(Self.escape(summary))\" "
      + "xmlns=\"http://www.w3.org/2000/svg\">"
    if !horizontalBars.isEmpty { return svg + renderHorizontal() + "</svg>" }
    svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" class=\"plot\"/>"
    // Grid and y ticks.
    for k in 0...5 {
      let value = yRange.lowerBound + Double(k) / 5 * (yRange.upperBound - yRange.lowerBound)
      svg += "<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(y(value)))\" y2=\"\(f(y(value)))\" class=\"grid\"/>"
      svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(value) + 4))\" class=\"tick\" text-anchor=\"end\">"
        + "\(tickText(value, percent: percentY))</text>"
    }
    if bars.isEmpty {
      for k in 0...5 {
        let value = xRange.lowerBound + Double(k) / 5 * (xRange.upperBound - xRange.lowerBound)
        svg += "<line x1=\"\(f(x(value)))\" x2=\"\(f(x(value)))\" y1=\"\(f(top))\" y2=\"\(f(top + plotHeight))\" class=\"grid\"/>"
        svg += "<text x=\"\(f(x(value)))\" y=\"\(f(top + plotHeight + 16))\" class=\"tick\" text-anchor=\"middle\">"
          + "\(tickText(value, percent: percentX))</text>"
      }
    } else {
      let slot = plotWidth / Double(bars.count)
      // Bars rise from zero (or the range's end nearest it), down for negative values.
      let base = min(max(0, yRange.lowerBound), yRange.upperBound)
      for (k, bar) in bars.enumerated() {
        let value = min(max(bar.value, yRange.lowerBound), yRange.upperBound)
        let height = abs(y(base) - y(value))
        svg += "<rect x=\"\(f(left + Double(k) * slot + slot * 0.15))\" y=\"\(f(min(y(base), y(value))))\" "
          + "width=\"\(f(slot * 0.7))\" height=\"\(f(height))\" fill=\"\(bar.color)\"><title>\(Self.escape(bar.label)): "
          + "\(String(format: "%.3f", bar.value))</title></rect>"
        svg += "<text x=\"\(f(left + (Double(k) + 0.5) * slot))\" y=\"\(f(top + plotHeight + 16))\" class=\"tick\" "
          + "text-anchor=\"middle\">\(Self.escape(bar.label))</text>"
      }
    }
    for line in lines where !line.points.isEmpty {
      let path = line.points.map { "\(f(x($0.x))),\(f(y($0.y)))" }.joined(separator: " ")
      svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2.2\""
        + (line.dashed ? " stroke-dasharray=\"5 4\"" : "") + "/>"
      if line.dots {
        for point in line.points where point.x.isFinite && point.y.isFinite {
          svg += "<circle cx=\"\(f(x(point.x)))\" cy=\"\(f(y(point.y)))\" r=\"3.5\" fill=\"\(line.color)\"/>"
        }
      }
    }
    // Axis titles and the legend.
    svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 8))\" class=\"axis\" text-anchor=\"middle\">"
      + "\(Self.escape(xLabel))</text>"
    svg += "<text transform=\"translate(16 \(f(top + plotHeight / 2))) rotate(-90)\" class=\"axis\" "
      + "text-anchor=\"middle\">\(Self.escape(yLabel))</text>"
    let named = lines.filter { !$0.name.isEmpty }
    var legendY = legendBelow ? top + plotHeight - 17 * Double(named.count) + 6 : top + 14
    for line in named {
      let lx = left + plotWidth - 150
      svg += "<line x1=\"\(f(lx))\" x2=\"\(f(lx + 22))\" y1=\"\(f(legendY - 4))\" y2=\"\(f(legendY - 4))\" "
        + "stroke=\"\(line.color)\" stroke-width=\"2.2\"" + (line.dashed ? " stroke-dasharray=\"5 4\"" : "") + "/>"
      svg += "<text x=\"\(f(lx + 28))\" y=\"\(f(legendY))\" class=\"legend\">\(Self.escape(line.name))</text>"
      legendY += 17
    }
    return svg + "</svg>"
  }

  /// Bars left to right, one row per label (names in a column of their own), the value at the end.
  func renderHorizontal() -> String {
    let f = Self.f
    let largest = horizontalBars.map(\.value).max() ?? 1
    let labelWidth = 150.0, barStart = 158.0, barRoom = width - barStart - 78
    let slot = (height - top - bottom) / Double(horizontalBars.count)
    var svg = ""
    for (k, bar) in horizontalBars.enumerated() {
      let length = largest > 0 ? bar.value / largest * barRoom : 0
      let rowY = top + Double(k) * slot
      svg += "<text x=\"\(f(labelWidth))\" y=\"\(f(rowY + slot * 0.5 + 4))\" class=\"tick\" text-anchor=\"end\">"
        + "\(Self.escape(bar.label))</text>"
      svg += "<rect x=\"\(f(barStart))\" y=\"\(f(rowY + slot * 0.15))\" width=\"\(f(max(1, length)))\" "
        + "height=\"\(f(slot * 0.7))\" fill=\"\(bar.color)\"/>"
      svg += "<text x=\"\(f(barStart + max(1, length) + 5))\" y=\"\(f(rowY + slot * 0.5 + 4))\" class=\"tick\">"
        + "\(String(format: bar.value >= 100 ? "%.0f" : "%.3f", bar.value))</text>"
    }
    svg += "<text x=\"\(f(barStart + barRoom / 2))\" y=\"\(f(height - 8))\" class=\"axis\" text-anchor=\"middle\">"
      + "\(Self.escape(xLabel))</text>"
    return svg
  }
}
