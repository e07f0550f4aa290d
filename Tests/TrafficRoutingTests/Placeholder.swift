// Work in progress: replaced by the target's real tests.
