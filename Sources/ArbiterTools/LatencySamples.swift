import Foundation

/// Calls timed one by one, for the in-process benchmarks (`model-bench`, `decide-bench`).
enum LatencySamples {
  /// Times `body` `count` times, after `warmUp` untimed calls; nanoseconds, in call order.
  static func time(_ count: Int, warmUp: Int, _ body: () -> Void) -> [UInt64] {
    for _ in 0..<warmUp { body() }
    var samples = [UInt64](repeating: 0, count: count)
    for i in 0..<count {
      let start = DispatchTime.now().uptimeNanoseconds
      body()
      samples[i] = DispatchTime.now().uptimeNanoseconds - start
    }
    return samples
  }

  /// "mean …, p50 …, p99 …" in microseconds.
  static func summary(_ samples: [UInt64]) -> String {
    let sorted = samples.sorted()
    func us(_ q: Double) -> String {
      String(format: "%.2f µs", Double(sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]) / 1000)
    }
    let mean = String(format: "%.2f µs", Double(samples.reduce(0, +)) / Double(samples.count) / 1000)
    return "mean \(mean), p50 \(us(0.5)), p99 \(us(0.99))"
  }
}
