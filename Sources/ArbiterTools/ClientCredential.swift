import ArbiterService
import ArgumentParser
import Foundation
import GRPCCore

/// The credential a client command presents: `--token`, else `--token-file`'s first line, else
/// `$ARBITER_TOKEN`, `$ARBITER_TOKEN_FILE`, or the admin token the server made in its data
/// directory (`arbiter-data/admin-token`, relative to where the command runs). None found: no
/// credential is sent (a server that requires none).
struct CredentialOptions: ParsableArguments {
  @Option(help: "API key or signed token to call with (default: $ARBITER_TOKEN, or the server's admin token file).")
  var token: String?
  @Option(
    help: "File whose first line is the API key or token (default: $ARBITER_TOKEN_FILE, else arbiter-data/admin-token)."
  )
  var tokenFile: String?

  /// The file the server writes its admin token to by default.
  static let defaultTokenFile = "arbiter-data/admin-token"

  /// The credential found, or nil; a named file that cannot be read is a usage error naming it.
  func credential(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
    if let token { return token }
    if let tokenFile { return try Self.firstLine(of: tokenFile, named: "--token-file") }
    if let token = environment["ARBITER_TOKEN"], !token.isEmpty { return token }
    if let file = environment["ARBITER_TOKEN_FILE"], !file.isEmpty {
      return try Self.firstLine(of: file, named: "ARBITER_TOKEN_FILE")
    }
    guard FileManager.default.fileExists(atPath: Self.defaultTokenFile) else { return nil }
    return try Self.firstLine(of: Self.defaultTokenFile, named: "the admin token file")
  }

  static func firstLine(of path: String, named: String) throws -> String {
    do {
      let text = try String(contentsOfFile: path, encoding: .utf8)
      return String(text.split(whereSeparator: \.isNewline).first ?? "").trimmingCharacters(in: .whitespaces)
    } catch {
      throw ValidationError("cannot read \(named) \(path): \(error.localizedDescription)")
    }
  }

  /// The gRPC interceptors that send the credential found (none when there is none).
  func interceptors() throws -> [any ClientInterceptor] {
    try credential().map { [BearerCredentialInterceptor(credential: $0)] } ?? []
  }
}
