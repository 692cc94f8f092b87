"""Fix-ups: PatchOp shaping, plans with inverses, journals and rollback plans (pure), and `apply`, the one edge
that writes to RingCentral (guards, pacing, journal, lock)."""
