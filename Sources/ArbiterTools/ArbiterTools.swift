import ArgumentParser

/// `arbiter-tools`: offline work (generate the demo bank, train models) and a command-line
/// client of a running server.
@main
struct ArbiterTools: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "arbiter-tools", abstract: "Offline tools and a command-line client for Arbiter.",
    subcommands: [
      Generate.self, Train.self, Evaluate.self, Bundle.self, EvaluatePolicy.self, Lift.self, TrainUplift.self, Play.self, Import.self, Decide.self, DecideBench.self, Profile.self, Outcome.self, Status.self,
      Reload.self, Promote.self, ImportConsents.self, Erase.self, StoreBench.self, ModelBench.self, Simulate.self, AdaptiveBench.self, Outbound.self, Bench.self, Widen.self,
    ])
}
