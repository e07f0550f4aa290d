/// Per-thread scratch space for running a compiled model: one storage slot per graph value plus reusable
/// buffers. Keep one per thread (`model.makeContext()`) and reuse it: after the first call of a given batch
/// size nothing is allocated. A context is not thread-safe; the model it came from is.
public final class ExecutionContext {
    let slots: [Slot]
    /// Scratch floats for kernels (tree ensembles, casts).
    var scratch: [Float] = []
    var scratch2: [Float] = []
    var scratchI: [Int32] = []
    /// Reusable row buffer for the tree kernels (row-major, padded with a NaN column).
    var treeRows: [Float] = []
    let modelID: ObjectIdentifier

    init(slots: [Slot], modelID: ObjectIdentifier) {
        self.slots = slots
        self.modelID = modelID
    }
}
