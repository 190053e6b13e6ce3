import Testing

/// Every suite that starts real `pygmy` processes — local clusters, chaos runs, the hostile network, the
/// multi-host network — nested here so that even a parallel `swift test` runs them one test at a time. Each
/// needs the machine's CPU for its timeouts to mean anything (on two cores, a node that misses heartbeats
/// while another cluster starts looks dead), and each cleans up its processes before the next starts.
///
/// The time limit fails a stuck test by itself instead of holding the whole run until CI's watchdog
/// (`.ci/watchdog`) kills it. It can only do so because these tests never block a thread of the
/// cooperative pool: child processes are run and awaited on threads of their own (`PygmyProcess.run`,
/// `Process.exited(within:)`, `MultiHostCommand.run`) and clean-up awaits (`withCleanup`).
@Suite(.serialized, .timeLimit(.minutes(5)))
enum LiveProcessTests {}
