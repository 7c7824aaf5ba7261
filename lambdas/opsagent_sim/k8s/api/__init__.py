"""The Kubernetes API surface of the emulator: routing, auth, selectors, patches and the handlers."""
