import ArbiterAPI
import ArbiterAccess
import GRPCCore

/// The role each RPC needs, by its method descriptor, on every door (gRPC, lean, HTTP map their
/// calls to these methods). Health is open to all (load balancers probe it), server reflection to
/// any credential (it shows only the API's shape, which is public); a method not listed
/// needs `admin`, so that a new method is closed until it is given a role here.
public enum MethodRoles {
  /// The role `method` needs; nil for one open to all.
  public static func role(for method: MethodDescriptor) -> Role? {
    if method.service == Grpc_Health_V1_Health.descriptor { return nil }
    // Reflection shows only the API's shape (the .proto files): any credential may read it.
    if method.service == Grpc_Reflection_V1_ServerReflection.descriptor
      || method.service == Grpc_Reflection_V1alpha_ServerReflection.descriptor
    {
      return .decide
    }
    return roles[method] ?? .admin
  }

  /// The methods whose calls (and refused attempts) go to the audit log: those that change
  /// what the server decides with.
  public static let audited: Set<MethodDescriptor> = [
    Arbiter_V1_AdminService.Method.Reload.descriptor, Arbiter_V1_AdminService.Method.SetChallenger.descriptor,
    Arbiter_V1_AdminService.Method.EraseCustomer.descriptor, Arbiter_V1_AdminService.Method.Promote.descriptor,
    Arbiter_V1_AdminService.Method.ResetAdaptive.descriptor,
  ]

  static let roles: [MethodDescriptor: Role] = [
    Arbiter_V1_DecisionService.Method.Decide.descriptor: .decide,
    Arbiter_V1_DecisionService.Method.Personalize.descriptor: .decide,
    Arbiter_V1_DecisionService.Method.RecordOutcomes.descriptor: .decide,
    Arbiter_V1_DecisionService.Method.SelectOutbound.descriptor: .decide,
    // The no-op baseline costs what a Decide costs at the door, its check included.
    Arbiter_V1_BenchmarkService.Method.Echo.descriptor: .decide,
    Arbiter_V1_ProfileService.Method.GetProfile.descriptor: .profileRead,
    Arbiter_V1_ProfileService.Method.UpsertProfiles.descriptor: .profileWrite,
    Arbiter_V1_ProfileService.Method.IngestEvents.descriptor: .profileWrite,
    Arbiter_V1_ProfileService.Method.RecordConsents.descriptor: .profileWrite,
    Arbiter_V1_AdminService.Method.GetStatus.descriptor: .admin,
    Arbiter_V1_AdminService.Method.Reload.descriptor: .admin,
    Arbiter_V1_AdminService.Method.SetChallenger.descriptor: .admin,
    Arbiter_V1_AdminService.Method.EraseCustomer.descriptor: .admin,
    Arbiter_V1_AdminService.Method.Promote.descriptor: .admin,
    Arbiter_V1_AdminService.Method.ResetAdaptive.descriptor: .admin,
  ]
}
