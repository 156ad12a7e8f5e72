"""Where uploaded code runs: detecting a working sandbox (`detect`), confining a worker with
bubblewrap or per-plugin uids (`confine`), the worker processes and their protocol
(`workers`, and `worker_main`, the file copied into the sandbox), and the factory that
builds them from the settings (`factory`)."""
