import ArbiterAPI
import Foundation
import SwiftProtobuf

/// What gRPC server reflection serves, indexed: the descriptor of every `.proto` file the
/// server was built from (``ArbiterProtoDescriptors``), the file defining each fully qualified
/// symbol (services, methods, messages and enums, nested ones included, and enum values), and
/// the services the server serves. Wire-free: the v1 and v1alpha services map their messages to
/// ``Question`` and ``Answer``.
public struct ReflectionIndex: Sendable {
  /// What a reflection request asks.
  public enum Question: Sendable, Equatable {
    /// A file by its name (e.g. "arbiter/v1/decision.proto").
    case fileByFilename(String)
    /// The file defining a fully qualified symbol (e.g. "arbiter.v1.DecisionService.Decide").
    case fileContainingSymbol(String)
    /// The file defining an extension of a message.
    case fileContainingExtension(type: String, number: Int32)
    /// The extension numbers of a message.
    case allExtensionNumbersOfType(String)
    /// The services served.
    case listServices
    /// A request that asks nothing.
    case nothing
  }

  /// The answer to a ``Question``.
  public enum Answer: Sendable, Equatable {
    /// Serialized `FileDescriptorProto`s: the file asked for first, then every file it imports
    /// (directly or not), so that a client can build the symbols without asking again.
    case files([Data])
    /// Fully qualified service names.
    case services([String])
    /// A message's extension numbers (none here: the files are proto3 and declare none).
    case extensionNumbers(type: String, numbers: [Int32])
    /// A gRPC status code and what was not found or wrong.
    case error(code: Int32, message: String)
  }

  private let files: [String: Google_Protobuf_FileDescriptorProto]
  private let serialized: [String: Data]
  private let fileOfSymbol: [String: String]
  private let messages: Set<String>
  /// The services served, sorted.
  public let services: [String]

  /// An index of `descriptorSet` (a serialized `FileDescriptorSet`) listing `services`; throws
  /// when the set cannot be read or a service is not in it.
  public init(descriptorSet: Data, services: [String]) throws {
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet)
    var files: [String: Google_Protobuf_FileDescriptorProto] = [:]
    var serialized: [String: Data] = [:]
    var fileOfSymbol: [String: String] = [:]
    var messages = Set<String>()
    for file in set.file {
      // Comments stay (tools show them); nothing else is dropped.
      files[file.name] = file
      serialized[file.name] = try file.serializedBytes()
      let prefix = file.package.isEmpty ? "" : file.package + "."
      func add(_ symbol: String) { fileOfSymbol[symbol] = file.name }
      func addEnum(_ type: Google_Protobuf_EnumDescriptorProto, scope: String) {
        add(scope + type.name)
        // Enum values are scoped beside their enum, as in C++.
        for value in type.value { add(scope + value.name) }
      }
      func addMessage(_ message: Google_Protobuf_DescriptorProto, scope: String) {
        let name = scope + message.name
        add(name)
        messages.insert(name)
        for field in message.field { add(name + "." + field.name) }
        for nested in message.nestedType { addMessage(nested, scope: name + ".") }
        for type in message.enumType { addEnum(type, scope: name + ".") }
      }
      for message in file.messageType { addMessage(message, scope: prefix) }
      for type in file.enumType { addEnum(type, scope: prefix) }
      for service in file.service {
        add(prefix + service.name)
        for method in service.method { add(prefix + service.name + "." + method.name) }
      }
    }
    for service in services where fileOfSymbol[service] == nil {
      throw ReflectionIndexError(message: "service \(service) is in none of the descriptors")
    }
    self.files = files
    self.serialized = serialized
    self.fileOfSymbol = fileOfSymbol
    self.messages = messages
    self.services = services.sorted()
  }

  /// An index of the descriptors Arbiter was built from, listing `services`.
  public init(services: [String]) throws {
    guard let set = Data(base64Encoded: ArbiterProtoDescriptors.fileDescriptorSetBase64) else {
      throw ReflectionIndexError(message: "the built-in descriptor set is not base64")
    }
    try self.init(descriptorSet: set, services: services)
  }

  /// Answers `question`.
  public func answer(_ question: Question) -> Answer {
    switch question {
    case .listServices:
      return .services(services)
    case .fileByFilename(let name):
      guard files[name] != nil else { return .error(code: 5, message: "no file '\(name.prefix(200))'") }
      return .files(withImports(name))
    case .fileContainingSymbol(let symbol):
      let trimmed = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
      guard let name = fileOfSymbol[trimmed] else {
        return .error(code: 5, message: "no symbol '\(symbol.prefix(200))'")
      }
      return .files(withImports(name))
    case .fileContainingExtension(let type, let number):
      return .error(code: 5, message: "no extension \(number) of '\(type.prefix(200))' (the files declare none)")
    case .allExtensionNumbersOfType(let type):
      guard messages.contains(type) else { return .error(code: 5, message: "no message type '\(type.prefix(200))'") }
      return .extensionNumbers(type: type, numbers: [])
    case .nothing:
      return .error(code: 3, message: "the request asks nothing (set one of its message_request fields)")
    }
  }

  /// The serialized file `name`, then the files it imports, each once, depth first.
  private func withImports(_ name: String) -> [Data] {
    var order: [String] = []
    var seen = Set<String>()
    func visit(_ file: String) {
      guard seen.insert(file).inserted, let descriptor = files[file] else { return }
      order.append(file)
      for dependency in descriptor.dependency { visit(dependency) }
    }
    visit(name)
    return order.compactMap { serialized[$0] }
  }
}

/// The descriptors for reflection could not be indexed.
public struct ReflectionIndexError: Error, CustomStringConvertible {
  /// What was wrong.
  public var message: String
  /// The message.
  public var description: String { message }
}
