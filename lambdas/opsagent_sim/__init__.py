"""Offline simulators for tests, the drill and demos (never shipped in Lambda zips)."""
