"""Prometheus metrics (`/metrics` on PORT, bot/health_http.py), with prometheus-client.

One registry per Services, so that two bots in one process (the tests) count apart. Names
follow Prometheus conventions: the `chatops_` prefix, `_total` on counters (the client
adds it), `_seconds` for durations. Label values never come from the model or Slack
text: a tool name no plugin provides is counted as `unknown`, so a model inventing names
cannot blow up the number of series.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from bot.plugin_host import ErrorKind, Tool, ToolResult

# The text format every Prometheus (2.x included) reads; our names are all plain ASCII
disable_created_metrics()  # no `_created` series beside every counter: half the noise
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RUN_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
CALL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
ACK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3)
OUTSIDE_PLUGINS = "agent"  # the agent's own tool (read_tool_output) has no plugin


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.runs = Counter("chatops_runs", "Agent runs, by how they ended", ["status"],
                            registry=r)
        self.run_seconds = Histogram("chatops_run_duration_seconds",
                                     "Agent run duration, question to answer",
                                     buckets=RUN_BUCKETS, registry=r)
        self.model_seconds = Histogram("chatops_model_call_duration_seconds",
                                       "Model call latency (one step of a run)",
                                       buckets=CALL_BUCKETS, registry=r)
        self.model_errors = Counter("chatops_model_errors", "Model calls that failed, by kind",
                                    ["kind"], registry=r)
        self.tokens = Counter("chatops_model_tokens", "Tokens the model used",
                              ["kind"], registry=r)
        self.tool_calls = Counter("chatops_tool_calls", "Tool calls, by plugin, tool, outcome",
                                  ["plugin", "tool", "outcome"], registry=r)
        self.tool_seconds = Histogram("chatops_tool_call_duration_seconds",
                                      "Tool call duration", ["plugin", "tool"],
                                      buckets=CALL_BUCKETS, registry=r)
        self.ack_seconds = Histogram("chatops_slack_ack_duration_seconds",
                                     "Time to acknowledge a Slack request", ["kind"],
                                     buckets=ACK_BUCKETS, registry=r)
        self.slack_retries = Counter("chatops_slack_retries",
                                     "Slack Web API calls tried again, by why",
                                     ["reason"], registry=r)
        self.worker_starts = Counter("chatops_plugin_worker_starts",
                                     "Sandboxed plugin worker processes started", ["plugin"],
                                     registry=r)
        self.worker_restarts = Counter("chatops_plugin_worker_restarts",
                                       "Workers started to replace one that had died",
                                       ["plugin"], registry=r)
        self.worker_crashes = Counter("chatops_plugin_worker_crashes",
                                      "Tool calls ended by their worker crashing", ["plugin"],
                                      registry=r)
        self.plugins = Gauge("chatops_plugins", "Plugins, by status", ["status"], registry=r)
        self.runs_waiting = Gauge("chatops_runs_waiting",
                                  "Runs waiting for a free slot or their turn in a thread",
                                  registry=r)
        self.approvals_pending = Gauge("chatops_approvals_pending",
                                       "Tool calls waiting for an admin's approval here",
                                       registry=r)
        self.feedback = Counter("chatops_feedback", "Votes on answers", ["vote"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def count_run(self, status: str, seconds: float, tokens: Iterable[int]) -> None:
        self.runs.labels(status=status).inc()
        self.run_seconds.observe(seconds)
        for kind, count in zip(("prompt", "completion"), tokens, strict=True):
            if count:
                self.tokens.labels(kind=kind).inc(count)

    def count_tool(self, result: ToolResult, seconds: float) -> None:
        if result.plugin is None and result.error == ErrorKind.UNKNOWN_TOOL:
            plugin, tool = "none", "unknown"  # a name the model made up
        else:
            plugin, tool = result.plugin or OUTSIDE_PLUGINS, result.tool
        outcome = "ok" if result.ok else str(result.error or "error")
        self.tool_calls.labels(plugin=plugin, tool=tool, outcome=outcome).inc()
        self.tool_seconds.labels(plugin=plugin, tool=tool).observe(seconds)

    def count_worker(self, plugin: str, event: str) -> None:
        """`start` or `restart` of a plugin's sandboxed worker."""
        (self.worker_restarts if event == "restart" else self.worker_starts).labels(
            plugin=plugin).inc()

    async def __call__(self, tool: Tool, result: ToolResult) -> None:
        """A registry listener: a crashed call is a crashed worker."""
        if result.error == ErrorKind.CRASHED:
            self.worker_crashes.labels(plugin=tool.plugin).inc()

    def set_plugins(self, statuses: Iterable[str]) -> None:
        counts: dict[str, int] = {}
        for status in statuses:
            counts[status] = counts.get(status, 0) + 1
        for status in ("enabled", "disabled", "error", *counts):
            self.plugins.labels(status=status).set(counts.get(status, 0))
