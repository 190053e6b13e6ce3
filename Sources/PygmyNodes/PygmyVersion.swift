/// The version of this build of Pygmy: printed by `pygmy --version`, logged by every node at start,
/// and reported in each node's status.
public enum PygmyVersion {
    public static let current = "0.5.0"
}
