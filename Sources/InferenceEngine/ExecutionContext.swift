/// Per-thread scratch space for running a compiled model: one storage slot per graph value plus reusable
/// buffers. Keep one per thread (`model.makeContext()`) and reuse it: after the first call of a given batch
/// size nothing is allocated. A context is not thread-safe; the model it came from is.
///
/// Buffers only grow: the tree kernels and ``FusedTreePlan`` size ``treeRows`` to rows × (features + 1) floats, and
/// every buffer keeps the capacity of the largest batch it has served.
public final class ExecutionContext {
    /// One slot per graph value, indexed by the slot numbers the compiler gave out.
    let slots: [Slot]
    /// Scratch floats for kernels (tree ensembles, casts).
    var scratch: [Float] = []
    /// A second scratch float buffer for kernels that need two at once.
    var scratch2: [Float] = []
    /// Scratch integer buffer for kernels (indices).
    var scratchI: [Int32] = []
    /// Reusable row buffer for the tree kernels (row-major, padded with a NaN column).
    var treeRows: [Float] = []
    /// Reusable per-row, per-column "has a weight" flags for the tree kernels (see `takeFlags`).
    var flags: [UInt8] = []
    /// Identity of the model that made this context; `CompiledModel.checkContext` refuses a context of another model.
    let modelID: ObjectIdentifier

    /// Made only by `CompiledModel.makeContext()`, which fills the constant slots.
    init(slots: [Slot], modelID: ObjectIdentifier) {
        self.slots = slots
        self.modelID = modelID
    }

    /// The flag buffer, zeroed to `n` entries, moved out of the context so a kernel can hold it across closures
    /// that borrow other buffers; put it back with `ctx.flags = buffer` (its capacity is kept, so steady-state
    /// calls allocate nothing).
    func takeFlags(_ n: Int) -> [UInt8] {
        var f: [UInt8] = []
        swap(&f, &flags)
        f.removeAll(keepingCapacity: true)
        f.append(contentsOf: repeatElement(0, count: n))
        return f
    }
}
