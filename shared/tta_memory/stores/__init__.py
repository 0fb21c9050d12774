"""The sibling stores (sessions, cache, deep, PAFs, groups). Each takes the engine context and
none imports another; operations across layers live above them (:mod:`tta_memory.crosslayer`)."""
