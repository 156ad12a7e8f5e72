"""Helpers shared by the tests: one home for what more than one test module uses (no test
module imports another)."""
