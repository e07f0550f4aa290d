/// Where one request without an explicit version goes, as decided by the model's active rollout.
///
/// Holds only the routing table it came from and a range index (one reference), so making one costs no extra
/// reference counting; the properties read the immutable table.
public struct Assignment: Sendable {
    let table: RoutingTable
    /// Index into `table.targets`.
    let range: Int

    /// Index of the variant in the rollout's status (`RolloutStatus.variants`); pass the whole assignment back to
    /// ``RolloutManager/record(_:outcome:)``.
    public var variantIndex: Int { table.targets[range].index }
    /// Variant name for the response (`baseline`, `candidate`, or the arm name).
    public var variantName: String { table.targets[range].name }
    /// The model version that serves the request.
    public var version: Int64 { table.targets[range].version }
    /// The shadow version to evaluate as well (its answer is recorded, never returned), if the rollout has one.
    public var shadowVersion: Int64? { table.shadow?.version }
    /// Index of the shadow variant, with ``shadowVersion``.
    public var shadowVariantIndex: Int? { table.shadow?.index }
    /// The rollout that made the assignment; statistics go to it even if the rollout changes meanwhile.
    var rollout: Rollout { table.rollout }
}

/// An immutable view of how a rollout splits traffic, swapped atomically on every weight or state change.
final class RoutingTable: Sendable {
    /// A variant as the hot path needs it.
    struct Target: Sendable {
        let index: Int
        let name: String
        let version: Int64
    }

    /// The rollout this table routes for; calls record their outcomes on it.
    let rollout: Rollout
    /// FNV-1a state after the rollout id (see ``RoutingKeyHash``).
    let prefix: UInt64
    /// Exclusive upper bounds in basis points of consecutive ranges, starting at 0; the last is 10000.
    let upperBounds: [Int]
    /// The variant of each range.
    let targets: [Target]
    /// The shadow variant, evaluated as well (its answer is recorded, never returned); nil when there is none.
    let shadow: Target?
    /// The rollout's routing generation this table was built from.
    let generation: UInt64

    /// Builds the ranges from `ranges` in order, skipping zero weights; the weights are expected to sum to 10000.
    init(
        rollout: Rollout, prefix: UInt64, generation: UInt64, ranges: [(weightBP: Int, target: Target)], shadow: Target?
    ) {
        self.rollout = rollout
        self.prefix = prefix
        self.generation = generation
        var bounds: [Int] = []
        var targets: [Target] = []
        var sum = 0
        for range in ranges where range.weightBP > 0 {
            sum += range.weightBP
            bounds.append(sum)
            targets.append(range.target)
        }
        self.upperBounds = bounds
        self.targets = targets
        self.shadow = shadow
    }

    /// The assignment of a request whose key falls on basis point `bp`.
    @inline(__always)
    func assignment(basisPoint bp: Int) -> Assignment? {
        var i = 0
        while i < upperBounds.count {
            if bp < upperBounds[i] { break }
            i += 1
        }
        guard i < targets.count else { return nil }
        return Assignment(table: self, range: i)
    }
}
