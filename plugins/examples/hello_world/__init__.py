"""hello_world — the smallest complete plugin. Copy this directory to start your own.

A plugin is a Python package (a directory with ``__init__.py``, like this one) or a single
``.py`` module that defines two functions:

``get_manifest() -> dict``
    ``name``: lowercase letters, digits and ``_``, starting with a letter; it must equal the
    directory (or file) name. ``version``: a PEP 440 version such as ``"1.0.0"``; upload a
    new version to upgrade, roll back with ``/plugin rollback``. ``description`` and
    ``author``: free text shown in ``/plugin info``. ``permissions``: optional list; the only
    one today is ``"network"`` (without it an uploaded plugin's sandbox has no network).

``get_tools() -> list[dict]``
    One dict per tool:

    - ``schema``: the OpenAI function object ``{"name", "description", "parameters"}`` (or
      its ``{"type": "function", "function": {...}}`` wrapper). ``parameters`` is a JSON
      Schema for an object; the bot validates the model's arguments against it before your
      handler runs. Tool names match ``^[A-Za-z0-9_-]{1,64}$`` and must be unique among
      enabled plugins.
    - ``handler``: a sync or async function; it receives the arguments as keyword
      arguments. Declare a keyword-only ``ctx`` to also get a ``bot.sdk.ToolContext``
      (user, channel, thread, plugin config, logger).
    - ``requires_approval`` (optional, default False): ask an admin in Slack first.
    - ``timeout`` (optional, seconds): the call is stopped after this long.

    Return a ``str``, or any JSON-serialisable value (sent to the model as JSON). Raise an
    exception to report a failure: the model gets a short error, the log gets the traceback.

Try it locally: ``bot plugin check plugins/examples/hello_world`` validates it exactly as an
upload would be validated.
"""

from __future__ import annotations


def say_hello(name: str = "world") -> str:
    """Greet someone by name."""
    return f"Hello, {name}!"


def get_manifest() -> dict:
    return {
        "name": "hello_world",
        "version": "1.0.0",
        "description": "Says hello: the example every plugin starts from",
        "author": "SRE Team",
        "permissions": [],
    }


def get_tools() -> list[dict]:
    return [
        {
            "schema": {
                "name": "say_hello",
                "description": "Greet someone by name.",
                "parameters": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "description": "Who to greet"}},
                    "additionalProperties": False,
                },
            },
            "handler": say_hello,
            "timeout": 5,
        }
    ]
