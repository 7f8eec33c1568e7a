import ArgumentParser

@main
struct Ferryctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferryctl",
        abstract: "Inspect and operate the Ferry agent on this node.",
        discussion: """
        Reads the agent's admin API on 127.0.0.1:15000 and the pinned BPF maps under
        /sys/fs/bpf/ferry, so map and connection inspection keep working while ferryd is down.
        Every command takes -o json.
        """,
        subcommands: [
            CheckCommand.self, StatusCommand.self, WorkloadsCommand.self, ServicesCommand.self,
            ConnectionsCommand.self, CertsCommand.self, PoliciesCommand.self, RoutesCommand.self, TopCommand.self, MapsCommand.self, ConfigDumpCommand.self, LoggingCommand.self,
            EnrollCommand.self, UnenrollCommand.self, LoadCommand.self, UnloadCommand.self, CACommand.self,
        ]
    )
}
