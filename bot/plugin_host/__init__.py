"""The plugin system: contract, validation, loading, hosts, registry and manager."""
