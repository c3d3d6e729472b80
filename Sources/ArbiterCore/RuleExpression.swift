/// A rule over customer features and request context, written in a small expression language
/// and compiled once (at catalogue load) to a flat program over feature indices.
///
/// ```
/// age >= 25 and income_band in ("50-100k", "100k+") and not holds_mortgage
/// (txn_out_amount_30d - txn_in_amount_30d) / 30 > 50 or missing(days_since_call)
/// channel == "contact_centre" and balance_trend < -0.2
/// ```
///
/// - Values are numbers; booleans are 1 and 0; a missing value is NaN.
/// - Operators, loosest first: `or` (`||`), `and` (`&&`), `not` (`!`), comparisons `< <= > >= == !=`
///   and `in (…)` / `not in (…)`, `+ -`, `* /`, unary `-`.
/// - Strings name the levels of a categorical feature and may only be compared with one; they
///   are resolved to level codes at compile time.
/// - Functions: `missing(x)`, `present(x)`, `min(a, b)`, `max(a, b)`, `abs(x)`.
/// - Missing values: arithmetic with a missing operand is missing; a comparison or `in` with a
///   missing operand is *unknown*; `and`, `or` and `not` follow three-valued (Kleene) logic.
///   A rule holds only when it is true; unknown does not pass.
///
/// Errors name the 1-based character position in the rule text.
public struct RuleExpression: Sendable, Hashable {
  /// The rule text as written in the catalogue.
  public let source: String
  let program: [Instruction]
  let constants: [Double]
  let stackDepth: Int
  /// The features the rule reads (names, for explanations).
  public let features: [String]

  enum Instruction: Sendable, Hashable {
    case constant(Double)
    case customer(Int)
    case context(Int)
    case add, subtract, multiply, divide, negate
    case less, lessOrEqual, greater, greaterOrEqual, equal, notEqual
    case and, or, not
    /// Is the value one of `constants[start..<start + count]`.
    case member(start: Int, count: Int)
    case isMissing, isPresent, minimum, maximum, absolute
  }

  /// Parses and compiles `source` against `schema`.
  public init(_ source: String, schema: FeatureSchema) throws(RuleError) {
    var parser = Parser(text: Array(source.unicodeScalars), schema: schema)
    let root = try parser.parseExpression()
    try parser.expectEnd()
    var program: [Instruction] = []
    var constants: [Double] = []
    var depth = 0, deepest = 0
    var features: [String] = []
    func emit(_ node: Node) {
      switch node.kind {
      case .number(let value):
        program.append(.constant(value))
        depth += 1
      case .feature(let name, let source, _):
        if !features.contains(name) { features.append(name) }
        switch source {
        case .customer(let index): program.append(.customer(index))
        case .context(let index): program.append(.context(index))
        }
        depth += 1
      case .string:
        // Resolved by the parent comparison; never emitted alone (the parser refuses it).
        program.append(.constant(.nan))
        depth += 1
      case .unary(let op, let operand):
        emit(operand)
        program.append(op)
      case .binary(let op, let left, let right):
        emit(left)
        emit(right)
        program.append(op)
        depth -= 1
      case .member(let operand, let values, let negated):
        emit(operand)
        program.append(.member(start: constants.count, count: values.count))
        constants.append(contentsOf: values)
        if negated { program.append(.not) }
      case .call(let op, let arguments):
        for argument in arguments { emit(argument) }
        program.append(op)
        depth -= arguments.count - 1
      }
      deepest = max(deepest, depth)
    }
    emit(root)
    self.source = source
    self.program = program
    self.constants = constants
    self.stackDepth = max(1, deepest)
    self.features = features
  }

  /// True when the rule holds (unknown and false do not). Allocates nothing.
  public func holds(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Bool {
    evaluate(customer: customer, context: context) == 1
  }

  /// The rule's value: 1 true, 0 false, NaN unknown (or a number for an arithmetic rule).
  public func evaluate(customer: UnsafeBufferPointer<Float>, context: UnsafeBufferPointer<Float>) -> Double {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: stackDepth) { stack in
      var top = -1
      for instruction in program {
        switch instruction {
        case .constant(let value):
          top += 1
          stack[top] = value
        case .customer(let index):
          top += 1
          stack[top] = Double(customer[index])
        case .context(let index):
          top += 1
          stack[top] = index < context.count ? Double(context[index]) : .nan
        case .negate: stack[top] = -stack[top]
        case .not: stack[top] = stack[top].isNaN ? .nan : (stack[top] == 0 ? 1 : 0)
        case .isMissing: stack[top] = stack[top].isNaN ? 1 : 0
        case .isPresent: stack[top] = stack[top].isNaN ? 0 : 1
        case .absolute: stack[top] = abs(stack[top])
        case .member(let start, let count):
          let value = stack[top]
          if value.isNaN { continue }
          var found = 0.0
          for k in start..<(start + count) where constants[k] == value { found = 1 }
          stack[top] = found
        default:
          let b = stack[top], a = stack[top - 1]
          top -= 1
          stack[top] = Self.apply(instruction, a, b)
        }
      }
      return stack[0]
    }
  }

  @inline(__always)
  static func apply(_ instruction: Instruction, _ a: Double, _ b: Double) -> Double {
    func compare(_ holds: Bool) -> Double { a.isNaN || b.isNaN ? .nan : (holds ? 1 : 0) }
    switch instruction {
    case .add: return a + b
    case .subtract: return a - b
    case .multiply: return a * b
    case .divide: return b == 0 ? .nan : a / b
    case .less: return compare(a < b)
    case .lessOrEqual: return compare(a <= b)
    case .greater: return compare(a > b)
    case .greaterOrEqual: return compare(a >= b)
    case .equal: return compare(a == b)
    case .notEqual: return compare(a != b)
    case .and:
      if a == 0 || b == 0 { return 0 }
      return a.isNaN || b.isNaN ? .nan : 1
    case .or:
      if (!a.isNaN && a != 0) || (!b.isNaN && b != 0) { return 1 }
      return a.isNaN || b.isNaN ? .nan : 0
    case .minimum: return a.isNaN || b.isNaN ? .nan : min(a, b)
    case .maximum: return a.isNaN || b.isNaN ? .nan : max(a, b)
    default: return .nan
    }
  }

  /// Whether two rules have the same text and the same compiled program.
  public static func == (lhs: RuleExpression, rhs: RuleExpression) -> Bool {
    lhs.source == rhs.source && lhs.program == rhs.program
  }
  /// Hashes the rule's text.
  public func hash(into hasher: inout Hasher) { hasher.combine(source) }
}

/// A rule that does not parse or compile: what is wrong and at which character (1-based).
public struct RuleError: Error, Sendable, Hashable {
  /// The 1-based character position in the rule text where the problem is.
  public var position: Int
  /// What is wrong, e.g. "unknown feature 'incme'".
  public var message: String
  /// The position and the message, e.g. "position 5: unknown feature 'incme'".
  public var description: String { "position \(position): \(message)" }

  /// Creates an error at a 1-based character position.
  public init(position: Int, message: String) {
    self.position = position
    self.message = message
  }
}

/// A parsed node with where it starts in the text.
struct Node {
  indirect enum Kind {
    case number(Double)
    case string(String)
    case feature(String, FeatureSource, levels: [String]?)
    case unary(RuleExpression.Instruction, Node)
    case binary(RuleExpression.Instruction, Node, Node)
    case member(Node, [Double], negated: Bool)
    case call(RuleExpression.Instruction, [Node])
  }
  var kind: Kind
  var position: Int
  var levels: [String]? { if case .feature(_, _, let levels) = kind { levels } else { nil } }
}

/// Recursive-descent parser with one token of look-ahead.
struct Parser {
  enum Token: Equatable {
    case number(Double), string(String), word(String), symbol(String), end
  }

  let text: [Unicode.Scalar]
  let schema: FeatureSchema
  var index = 0
  var token: Token = .end
  var tokenStart = 0

  init(text: [Unicode.Scalar], schema: FeatureSchema) {
    self.text = text
    self.schema = schema
  }

  func error(_ message: String, at position: Int? = nil) -> RuleError {
    RuleError(position: (position ?? tokenStart) + 1, message: message)
  }

  mutating func advance() throws(RuleError) {
    while index < text.count, text[index].properties.isWhitespace { index += 1 }
    tokenStart = index
    guard index < text.count else { token = .end; return }
    let c = text[index]
    if c.properties.numericType != nil
      || (c == "." && index + 1 < text.count && text[index + 1].properties.numericType != nil)
    {
      var end = index
      while end < text.count, text[end].properties.numericType != nil || text[end] == "." || text[end] == "_" {
        end += 1
      }
      if end < text.count, text[end] == "e" || text[end] == "E" {
        end += 1
        if end < text.count, text[end] == "+" || text[end] == "-" { end += 1 }
        while end < text.count, text[end].properties.numericType != nil { end += 1 }
      }
      let literal = String(String.UnicodeScalarView(text[index..<end])).replacingOccurrences(of: "_", with: "")
      guard let value = Double(literal), value.isFinite else { throw error("'\(literal)' is not a number") }
      token = .number(value)
      index = end
    } else if c == "\"" || c == "'" {
      var end = index + 1
      while end < text.count, text[end] != c { end += 1 }
      guard end < text.count else { throw error("unterminated string") }
      token = .string(String(String.UnicodeScalarView(text[(index + 1)..<end])))
      index = end + 1
    } else if c.properties.isAlphabetic || c == "_" {
      var end = index
      while end < text.count,
        text[end].properties.isAlphabetic || text[end].properties.numericType != nil || text[end] == "_"
          || text[end] == "."
      {
        end += 1
      }
      token = .word(String(String.UnicodeScalarView(text[index..<end])))
      index = end
    } else {
      let two = index + 1 < text.count ? String(String.UnicodeScalarView([c, text[index + 1]])) : ""
      if ["<=", ">=", "==", "!=", "&&", "||"].contains(two) {
        token = .symbol(two)
        index += 2
      } else if "<>()+-*/,!".unicodeScalars.contains(c) {
        token = .symbol(String(c))
        index += 1
      } else if c == "=" {
        throw error("'=' is not an operator; compare with '=='")
      } else {
        throw error("unexpected character '\(c)'")
      }
    }
  }

  mutating func parseExpression() throws(RuleError) -> Node {
    try advance()
    guard token != .end else { throw error("the rule is empty") }
    return try parseOr()
  }

  mutating func expectEnd() throws(RuleError) {
    guard token == .end else { throw error("unexpected \(describe(token))") }
  }

  func describe(_ token: Token) -> String {
    switch token {
    case .number(let value): "number \(value)"
    case .string(let text): "string \"\(text)\""
    case .word(let word): "'\(word)'"
    case .symbol(let symbol): "'\(symbol)'"
    case .end: "end of rule"
    }
  }

  func isWord(_ word: String) -> Bool { if case .word(let w) = token { w.lowercased() == word } else { false } }

  mutating func parseOr() throws(RuleError) -> Node {
    var left = try parseAnd()
    while isWord("or") || token == .symbol("||") {
      let at = tokenStart
      try advance()
      let right = try parseAnd()
      left = try logical(.or, left, right, at: at)
    }
    return left
  }

  mutating func parseAnd() throws(RuleError) -> Node {
    var left = try parseNot()
    while isWord("and") || token == .symbol("&&") {
      let at = tokenStart
      try advance()
      let right = try parseNot()
      left = try logical(.and, left, right, at: at)
    }
    return left
  }

  func logical(_ op: RuleExpression.Instruction, _ left: Node, _ right: Node, at: Int) throws(RuleError) -> Node {
    for side in [left, right] where side.levels != nil {
      throw error("categorical feature used as a condition; compare it with a level", at: side.position)
    }
    return Node(kind: .binary(op, left, right), position: at)
  }

  mutating func parseNot() throws(RuleError) -> Node {
    if isWord("not") || token == .symbol("!") {
      let at = tokenStart
      try advance()
      let operand = try parseNot()
      if operand.levels != nil {
        throw error("categorical feature used as a condition; compare it with a level", at: operand.position)
      }
      return Node(kind: .unary(.not, operand), position: at)
    }
    return try parseComparison()
  }

  mutating func parseComparison() throws(RuleError) -> Node {
    let left = try parseSum()
    let operators: [String: RuleExpression.Instruction] = [
      "<": .less, "<=": .lessOrEqual, ">": .greater, ">=": .greaterOrEqual, "==": .equal, "!=": .notEqual,
    ]
    if case .symbol(let symbol) = token, let op = operators[symbol] {
      let at = tokenStart
      try advance()
      let right = try parseSum()
      return Node(
        kind: .binary(op, try resolved(left, against: right), try resolved(right, against: left)), position: at)
    }
    var negated = false
    if isWord("not") {
      let at = tokenStart
      try advance()
      guard isWord("in") else { throw error("expected 'in' after 'not'", at: at) }
      negated = true
    }
    if isWord("in") {
      let at = tokenStart
      try advance()
      guard token == .symbol("(") else { throw error("expected '(' after 'in'") }
      var values: [Double] = []
      repeat {
        try advance()
        let position = tokenStart
        switch token {
        case .number(let value): values.append(value)
        case .string(let text):
          guard let levels = left.levels else {
            throw error("string \"\(text)\" compared with something that is not a categorical feature")
          }
          guard let code = levels.firstIndex(of: text) else { throw error(unknownLevel(text, levels), at: position) }
          values.append(Double(code))
        case .word(let word) where word == "true" || word == "false": values.append(word == "true" ? 1 : 0)
        default: throw error("expected a number or a string in the list, found \(describe(token))")
        }
        try advance()
      } while token == .symbol(",")
      guard token == .symbol(")") else { throw error("expected ',' or ')' in the list, found \(describe(token))") }
      try advance()
      return Node(kind: .member(left, values, negated: negated), position: at)
    }
    return left
  }

  func unknownLevel(_ text: String, _ levels: [String]) -> String {
    "\"\(text)\" is not a level of the feature (levels: \(levels.map { "\"\($0)\"" }.joined(separator: ", ")))"
  }

  /// A string operand becomes the code of the categorical feature on the other side.
  func resolved(_ node: Node, against other: Node) throws(RuleError) -> Node {
    guard case .string(let text) = node.kind else { return node }
    guard let levels = other.levels else {
      throw error("string \"\(text)\" compared with something that is not a categorical feature", at: node.position)
    }
    guard let code = levels.firstIndex(of: text) else { throw error(unknownLevel(text, levels), at: node.position) }
    return Node(kind: .number(Double(code)), position: node.position)
  }

  mutating func parseSum() throws(RuleError) -> Node {
    var left = try parseProduct()
    while token == .symbol("+") || token == .symbol("-") {
      let op: RuleExpression.Instruction = token == .symbol("+") ? .add : .subtract
      let at = tokenStart
      try advance()
      let right = try parseProduct()
      left = try arithmetic(op, left, right, at: at)
    }
    return left
  }

  mutating func parseProduct() throws(RuleError) -> Node {
    var left = try parseUnary()
    while token == .symbol("*") || token == .symbol("/") {
      let op: RuleExpression.Instruction = token == .symbol("*") ? .multiply : .divide
      let at = tokenStart
      try advance()
      let right = try parseUnary()
      left = try arithmetic(op, left, right, at: at)
    }
    return left
  }

  func arithmetic(_ op: RuleExpression.Instruction, _ left: Node, _ right: Node, at: Int) throws(RuleError) -> Node {
    for side in [left, right] {
      if side.levels != nil { throw error("categorical feature in arithmetic", at: side.position) }
      if case .string = side.kind { throw error("string in arithmetic", at: side.position) }
    }
    return Node(kind: .binary(op, left, right), position: at)
  }

  mutating func parseUnary() throws(RuleError) -> Node {
    if token == .symbol("-") {
      let at = tokenStart
      try advance()
      let operand = try parseUnary()
      if operand.levels != nil { throw error("categorical feature in arithmetic", at: operand.position) }
      return Node(kind: .unary(.negate, operand), position: at)
    }
    return try parsePrimary()
  }

  mutating func parsePrimary() throws(RuleError) -> Node {
    let at = tokenStart
    switch token {
    case .number(let value):
      try advance()
      return Node(kind: .number(value), position: at)
    case .string(let text):
      try advance()
      return Node(kind: .string(text), position: at)
    case .symbol("("):
      try advance()
      let inner = try parseOr()
      guard token == .symbol(")") else { throw error("expected ')', found \(describe(token))") }
      try advance()
      return inner
    case .word(let word):
      try advance()
      if word == "true" || word == "false" { return Node(kind: .number(word == "true" ? 1 : 0), position: at) }
      let functions: [String: (RuleExpression.Instruction, Int)] = [
        "missing": (.isMissing, 1), "present": (.isPresent, 1), "min": (.minimum, 2), "max": (.maximum, 2),
        "abs": (.absolute, 1),
      ]
      if token == .symbol("("), let (op, arity) = functions[word] {
        var arguments: [Node] = []
        repeat {
          try advance()
          let argument = try parseOr()
          if op != .isMissing && op != .isPresent, argument.levels != nil {
            throw error("categorical feature in arithmetic", at: argument.position)
          }
          arguments.append(argument)
        } while token == .symbol(",")
        guard token == .symbol(")") else {
          throw error("expected ')' after the arguments of \(word), found \(describe(token))")
        }
        guard arguments.count == arity else {
          throw error("\(word) takes \(arity) argument\(arity == 1 ? "" : "s"), given \(arguments.count)", at: at)
        }
        try advance()
        return Node(kind: .call(op, arguments), position: at)
      }
      let name = word.hasPrefix("context.") ? String(word.dropFirst("context.".count)) : word
      guard let source = schema.source(of: name) else { throw error("unknown feature '\(word)'", at: at) }
      if case .categorical(let levels) = schema.definition(of: source).kind {
        return Node(kind: .feature(name, source, levels: levels), position: at)
      }
      return Node(kind: .feature(name, source, levels: nil), position: at)
    default:
      throw error("expected a value, found \(describe(token))")
    }
  }
}
