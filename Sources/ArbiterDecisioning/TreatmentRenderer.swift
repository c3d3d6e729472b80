import ArbiterCore

/// A treatment template compiled against the schema: placeholders resolved to feature indices
/// once, at load.
public struct CompiledTemplate: Sendable {
  enum Segment: Sendable {
    case literal(String)
    case firstName
    case fullName
    case offerName
    case feature(Int)
  }
  let segments: [Segment]

  /// Compiles `text`; `{first_name}`, `{name}`, `{offer}` and `{feature:NAME}` are placeholders.
  public init(_ text: String, schema: FeatureSchema, what: String) throws(ArbiterError) {
    var segments: [Segment] = []
    var rest = Substring(text)
    while let open = rest.firstIndex(of: "{") {
      if open > rest.startIndex { segments.append(.literal(String(rest[..<open]))) }
      guard let close = rest[open...].firstIndex(of: "}") else {
        throw ArbiterError(.invalidArgument, "\(what): unclosed '{' in template \"\(text)\"")
      }
      let name = rest[rest.index(after: open)..<close]
      switch name {
      case "first_name": segments.append(.firstName)
      case "name": segments.append(.fullName)
      case "offer": segments.append(.offerName)
      default:
        guard name.hasPrefix("feature:") else {
          throw ArbiterError(.invalidArgument, "\(what): unknown placeholder '{\(name)}' in template \"\(text)\"")
        }
        let feature = String(name.dropFirst("feature:".count))
        guard let index = schema.customerIndex(of: feature) else {
          throw ArbiterError(.invalidArgument, "\(what): placeholder '{\(name)}' names feature '\(feature)', which the schema lacks")
        }
        segments.append(.feature(index))
      }
      rest = rest[rest.index(after: close)...]
    }
    if !rest.isEmpty { segments.append(.literal(String(rest))) }
    self.segments = segments
  }

  /// Fills the template for one customer.
  public func render(displayName: String, offerName: String, customer: UnsafeBufferPointer<Float>?) -> String {
    var text = ""
    for segment in segments {
      switch segment {
      case .literal(let literal): text += literal
      case .firstName: text += displayName.split(separator: " ").first.map(String.init) ?? "there"
      case .fullName: text += displayName.isEmpty ? "valued customer" : displayName
      case .offerName: text += offerName
      case .feature(let index):
        guard let customer, !customer[index].isNaN else { text += "—"; continue }
        let value = customer[index]
        text += value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(format2(value))
      }
    }
    return text
  }

  private func format2(_ value: Float) -> String {
    let scaled = (Double(value) * 100).rounded() / 100
    return String(scaled)
  }
}
