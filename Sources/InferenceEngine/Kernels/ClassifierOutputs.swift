/// Output sizing shared by the classifier kernels (tree ensembles and linear).
extension ExecutionContext {
    /// Sizes a classifier kernel's two outputs for `rows` rows: the float scores (rows × `columns`; a throwaway
    /// slot when the graph does not use the scores) and the labels (int64, or strings with their class index).
    func classifierOutputs(
        scores scoresOut: Int, labels labelOut: Int, rows: Int, columns: Int, stringLabels: Bool
    ) -> (scores: Slot, labels: Slot) {
        let scores = scoresOut >= 0 ? slots[scoresOut] : Slot(kind: .float)
        scores.kind = .float
        scores.setShape(rows, columns)
        scores.resizeF(rows * columns)
        let labels = slots[labelOut]
        labels.kind = stringLabels ? .string : .int64
        labels.setShape(rows)
        if stringLabels {
            labels.resizeS(rows)
            labels.labelIndex.removeAll(keepingCapacity: true)
            labels.hasLabelIndex = true
        } else {
            labels.resizeI(rows)
        }
        return (scores, labels)
    }
}
