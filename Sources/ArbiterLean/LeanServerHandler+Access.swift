import ArbiterAccess
import ArbiterCore
import NIOCore

extension LeanServerHandler {
  /// The connection's hello (docs/lean-protocol.md): its payload is the credential, an API key
  /// or a signed token, which names the caller for every later call on the connection. It is
  /// answered on stream 0: OK, or UNAUTHENTICATED (the connection stays open, its calls refused
  /// until a hello is accepted). A token not seen before is verified off the event loop; frames
  /// read meanwhile wait, in order, and reading stops until it is done.
  func hello(_ frame: LeanFrame, _ context: ChannelHandlerContext) {
    guard frame.stream == 0 else {
      fail(context, "a hello frame must be on stream 0, got stream \(frame.stream)")
      return
    }
    let credential = String(buffer: frame.payload)
    principal = nil
    guard let authenticator else {
      // Credentials are not required: the hello is accepted unchecked.
      respond(context, 0, .ok, "", "", [])
      return
    }
    switch authenticator.identifyWithoutWaiting(credential: credential[...]) {
    case .known(let known):
      principal = known
      respond(context, 0, .ok, "", "", [])
    case .refused(let error):
      answerHello(refusal: error, context)
    case .needsVerifying:
      heldWhileVerifying = []
      context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
      let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
      Task {
        let outcome: Result<Principal, ArbiterError>
        do throws(ArbiterError) {
          outcome = .success(try await authenticator.identify(credential: credential[...]))
        } catch {
          outcome = .failure(error)
        }
        bound.eventLoop.execute {
          let (handler, context) = bound.value
          handler.settleHello(outcome, context)
        }
      }
    }
  }

  /// The verified hello answered, then the frames that waited for it handled and reading resumed.
  private func settleHello(_ outcome: Result<Principal, ArbiterError>, _ context: ChannelHandlerContext) {
    switch outcome {
    case .success(let known):
      principal = known
      respond(context, 0, .ok, "", "", [])
    case .failure(let error):
      answerHello(refusal: error, context)
    }
    let held = heldWhileVerifying ?? []
    heldWhileVerifying = nil
    guard context.channel.isActive else { return }
    for (i, frame) in held.enumerated() {
      handle(frame, context)
      // A later hello went off to be verified too: the rest wait for it.
      if heldWhileVerifying != nil {
        heldWhileVerifying!.insert(contentsOf: held[(i + 1)...], at: 0)
        flushPending(context)
        return
      }
    }
    flushPending(context)
    if context.channel.isWritable {
      context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
      context.read()
    }
  }

  private func answerHello(refusal: ArbiterError, _ context: ChannelHandlerContext) {
    let (status, message) = Self.status(of: refusal)
    respond(context, 0, status, message, "", [])
  }

  /// Why a call needing `role` is refused on this connection, or nil when it may go ahead: no
  /// hello (or a refused one), an expired token, or a principal without the role. `method` names
  /// the call in the refusal.
  func accessRefusal(needs role: Role?, for method: String) -> ArbiterError? {
    guard let authenticator, let role else { return nil }
    guard let principal else {
      authenticator.countMissingCredential()
      return ArbiterError(
        .unauthenticated,
        "no credentials: this connection has sent no accepted hello frame (type 3, stream 0) with an API key or token")
    }
    return authenticator.permit(principal, needs: role, for: method)
  }
}
