import Foundation

/// A deterministic random generator (SplitMix64): the same seed gives the same stream on every
/// machine, so generated data, splits and samples are reproducible. (The standard library's
/// generator cannot be seeded, and no mirrored package offers a seeded one.)
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// Starts the stream for a seed; equal seeds give equal streams.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits of the stream.
  public mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1) with 53 bits of precision (platform-independent, unlike `Double.random`).
  public mutating func uniform() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// Uniform integer in `0..<bound` (bound > 0), by rejection so it is unbiased.
  public mutating func below(_ bound: Int) -> Int {
    precondition(bound > 0)
    let limit = UInt64.max - UInt64.max % UInt64(bound)
    while true {
      let value = next()
      if value < limit { return Int(value % UInt64(bound)) }
    }
  }

  /// True with probability `p`.
  public mutating func chance(_ p: Double) -> Bool { uniform() < p }

  /// A standard normal draw (Box–Muller).
  public mutating func normal() -> Double {
    var u = uniform()
    while u <= .ulpOfOne { u = uniform() }
    let v = uniform()
    return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v)
  }

  /// A stable 64-bit mix of a value with a salt (for hash-based splits and ids).
  public static func mix(_ value: UInt64, salt: UInt64 = 0) -> UInt64 {
    var generator = SeededGenerator(seed: value ^ (salt &* 0x9e37_79b9_7f4a_7c15))
    return generator.next()
  }
}
