#if canImport(Dispatch)
  import Dispatch
#endif

/// A call's deadline, as the doors read it and the decision uses it: a point in `DispatchTime`
/// uptime nanoseconds (`.max`: none). The decision's own budget ends ``answeringReserve``
/// before it, so that an answer made in time can still be encoded and sent in time.
public enum CallDeadline {
  /// The deadline of the call being handled on this task (set by the gRPC door); `.max` for none.
  @TaskLocal public static var current = UInt64.max

  /// What answering a decision takes after it is made (encoding, writing): 100 µs.
  public static let answeringReserve: UInt64 = 100_000

  /// The decision's deadline for a call that must be answered by `deadline`.
  public static func decisionDeadline(answeringBy deadline: UInt64) -> UInt64 {
    deadline == .max ? .max : deadline > answeringReserve ? deadline - answeringReserve : 0
  }

  /// The nanoseconds of a `grpc-timeout` header (1 to 8 digits and a unit: H, M, S, m, u, n),
  /// or nil when it is not one.
  public static func nanoseconds(grpcTimeout text: String) -> UInt64? {
    let utf8 = Array(text.utf8)
    guard (2...9).contains(utf8.count) else { return nil }
    var value: UInt64 = 0
    for digit in utf8.dropLast() {
      guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
      value = value * 10 + UInt64(digit - UInt8(ascii: "0"))
    }
    let scale: UInt64
    switch utf8.last! {
    case UInt8(ascii: "H"): scale = 3_600_000_000_000
    case UInt8(ascii: "M"): scale = 60_000_000_000
    case UInt8(ascii: "S"): scale = 1_000_000_000
    case UInt8(ascii: "m"): scale = 1_000_000
    case UInt8(ascii: "u"): scale = 1_000
    case UInt8(ascii: "n"): scale = 1
    default: return nil
    }
    return value.multipliedReportingOverflow(by: scale).overflow ? .max : value * scale
  }

  /// The nanoseconds of an HTTP `X-Server-Timeout` header (seconds, a non-negative decimal
  /// number such as `0.25`, as Google's HTTP APIs take it), or nil when it is not one.
  public static func nanoseconds(serverTimeout text: String) -> UInt64? {
    guard !text.isEmpty, text.utf8.count <= 24,
      text.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }),
      let seconds = Double(text), seconds.isFinite, seconds >= 0
    else { return nil }
    return seconds >= 1e9 ? .max : UInt64((seconds * 1e9).rounded())
  }
}
