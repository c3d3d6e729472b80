import ArbiterAPI
import ArbiterServer
import ArbiterService
import Foundation
import GRPCCore
import SwiftProtobuf
import Testing

/// gRPC server reflection from the descriptors built in: services listed, files by name and by
/// symbol with their imports, and what is not there answered NOT_FOUND on the stream.
@Suite struct ReflectionTests {
  @Test func theIndexAnswersFromTheBuiltInDescriptors() throws {
    let index = try ReflectionIndex(services: ["arbiter.v1.DecisionService", "grpc.health.v1.Health"])
    #expect(index.answer(.listServices) == .services(["arbiter.v1.DecisionService", "grpc.health.v1.Health"]))
    for symbol in [
      "arbiter.v1.DecisionService", "arbiter.v1.DecisionService.Decide", ".arbiter.v1.DecideRequest",
      "arbiter.v1.DecideRequest.customer_id", "arbiter.v1.Channel", "arbiter.v1.CHANNEL_WEB",
    ] {
      guard case .files(let files) = index.answer(.fileContainingSymbol(symbol)) else {
        Issue.record("\(symbol) not found")
        continue
      }
      let names = try files.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0).name }
      let defining = symbol.contains("Channel") || symbol.contains("CHANNEL") ? "common" : "decision"
      #expect(names.first == "arbiter/v1/\(defining).proto", "\(symbol): \(names)")
      #expect(Set(names).contains("arbiter/v1/common.proto"), "the imports come along: \(names)")
    }
    guard case .files(let decision) = index.answer(.fileByFilename("arbiter/v1/decision.proto")) else {
      Issue.record("decision.proto not found")
      return
    }
    let file = try Google_Protobuf_FileDescriptorProto(serializedBytes: decision[0])
    #expect(file.service.first?.method.map(\.name) == ["Decide", "Personalize", "RecordOutcomes", "SelectOutbound"])
    #expect(file.sourceCodeInfo.location.contains { $0.leadingComments.contains("Ranked offers for one customer") })
    #expect(
      index.answer(.fileContainingSymbol("arbiter.v1.Nope")) == .error(code: 5, message: "no symbol 'arbiter.v1.Nope'"))
    #expect(index.answer(.fileByFilename("/etc/passwd")) == .error(code: 5, message: "no file '/etc/passwd'"))
    #expect(
      index.answer(.allExtensionNumbersOfType("arbiter.v1.DecideRequest"))
        == .extensionNumbers(type: "arbiter.v1.DecideRequest", numbers: []))
    guard case .error(code: 3, _) = index.answer(.nothing) else {
      Issue.record("an empty request is not refused")
      return
    }
    #expect(throws: ReflectionIndexError.self) { _ = try ReflectionIndex(services: ["no.Such"]) }
  }

  @Test(.timeLimit(.minutes(2))) func theServerAnswersEachRequestOfTheStreamOverV1AndV1Alpha() async throws {
    let server = try TestSupport.makeServer()
    try await withInProcessClient(server) { client in
      let v1 = Grpc_Reflection_V1_ServerReflection.Client(wrapping: client)
      let answers = try await v1.serverReflectionInfo(
        requestProducer: { writer in
          try await writer.write(.with { $0.listServices = "" })
          try await writer.write(.with { $0.fileContainingSymbol = "arbiter.v1.AdminService.Reload" })
          try await writer.write(.with { $0.fileByFilename = "nope.proto" })
        },
        onResponse: { response in
          var all: [Grpc_Reflection_V1_ServerReflectionResponse] = []
          for try await message in response.messages { all.append(message) }
          return all
        })
      #expect(answers.count == 3)
      let listed = answers[0].listServicesResponse.service.map(\.name)
      #expect(listed.contains("arbiter.v1.DecisionService") && listed.contains("grpc.reflection.v1.ServerReflection"))
      #expect(answers[0].originalRequest.listServices == "")
      let admin = try Google_Protobuf_FileDescriptorProto(
        serializedBytes: try #require(answers[1].fileDescriptorResponse.fileDescriptorProto.first))
      #expect(admin.name == "arbiter/v1/admin.proto")
      #expect(answers[2].errorResponse.errorCode == 5)

      let alpha = Grpc_Reflection_V1alpha_ServerReflection.Client(wrapping: client)
      let names = try await alpha.serverReflectionInfo(
        requestProducer: { writer in try await writer.write(.with { $0.listServices = "*" }) },
        onResponse: { response in
          var names: [String] = []
          for try await message in response.messages { names += message.listServicesResponse.service.map(\.name) }
          return names
        })
      #expect(names == listed)
    }
  }
}
