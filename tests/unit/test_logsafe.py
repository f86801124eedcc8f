"""``logsafe``: client text in a log record cannot forge a line or flood the log."""

from __future__ import annotations

import io
import logging
import subprocess
import sys

import pytest
from gunicorn.config import Config

from antigravity_proxy import logsafe
from antigravity_proxy.config import Config as GatewayConfig
from antigravity_proxy.server import gunicorn_options


@pytest.fixture
def captured():
    """A private logger with one stream handler carrying the filter."""
    stream = io.StringIO()
    logger = logging.getLogger("tests.logsafe")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.handlers = [handler]
    logsafe.install(logger)
    yield logger, stream
    logger.handlers = []


@pytest.mark.parametrize(
    ("arg", "shown"),
    [
        ("gemini\r\nX-Injected: 1", "gemini\\r\\nX-Injected: 1"),
        ("\x1b[31mred\x7f", "\\x1b[31mred\\x7f"),
        ("tab\there", "tab\\there"),
        ("line\u2028sep\x85", "line\\x2028sep\\x85"),
        ("caf\u00e9 \U0001f600", "caf\u00e9 \U0001f600"),
    ],
)
def test_log_line_escapes_control_characters(captured, arg, shown):
    logger, stream = captured
    logger.warning("model %s refused", arg)
    assert stream.getvalue() == f"WARNING model {shown} refused\n"


def test_log_line_bounds_each_argument(captured):
    logger, stream = captured
    logger.warning("model %s / %r / %d", "x" * 10_000_000, ["y" * 5000], 7)
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert len(line) < 2 * logsafe.ARG_MAX + 200
    assert "[9998000 more characters]" in line and line.endswith("/ 7\n")


def test_log_line_bounds_a_long_message_and_mapping_args(captured):
    logger, stream = captured
    logger.warning("a=%(a)s", {"a": "z\n" * 3000})
    logger.warning("m" * 20_000)
    first, second = stream.getvalue().splitlines()
    assert first.startswith("WARNING a=z\\nz\\n") and len(first) < 3 * logsafe.ARG_MAX
    assert second.endswith(f"[{20_000 - logsafe.MESSAGE_MAX} more characters]")


def test_log_line_survives_a_bad_format(captured):
    logger, stream = captured
    logger.warning("two %s %s", "only-one")
    assert stream.getvalue().count("\n") == 1
    assert "only-one" in stream.getvalue()


def test_log_traceback_is_kept(captured):
    logger, stream = captured
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed for %s", "a\nb")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ERROR failed for a\\nb"
    assert lines[1] == "Traceback (most recent call last):"


def test_install_is_idempotent(captured):
    logger, _ = captured
    logsafe.install(logger)
    assert len(logger.handlers[0].filters) == 1


def test_cli_installs_the_filter_where_it_configures_logging(tmp_path):
    """The real wiring: ``cli.main`` configures logging, then escapes it."""
    config = tmp_path / "config.yaml"
    config.write_text(f"home: {tmp_path}\nproxy: {{api_key: sk-x}}\n")
    code = (
        "import logging\n"
        "from antigravity_proxy import cli\n"
        f"cli.main(['--config', {str(config)!r}, 'routes'])\n"
        "logging.getLogger('antigravity_proxy.x').warning("
        "'model %s', 'm\\r\\nX-Injected: 1')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "model m" in line]
    assert len(lines) == 1 and lines[0].endswith("model m\\r\\nX-Injected: 1")
    assert "X-Injected" not in done.stderr.replace(lines[0], "")


def test_gunicorn_logger_escapes_its_access_and_error_logs():
    """gunicorn's access log prints the decoded path: CR/LF there forged lines."""
    config = Config()
    for key, value in gunicorn_options(GatewayConfig()).items():
        config.set(key, value)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logger = config.logger_class(config)
        # gunicorn's error lines reach the gateway's handler, which escapes;
        # its access log is off (the gateway writes one line per request).
        reached = logger.error_log.handlers or root.handlers
        assert reached
        for handler in reached:
            assert any(isinstance(f, logsafe.EscapingFilter) for f in handler.filters)
        assert not logger.access_log.isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = saved


@pytest.mark.parametrize("level", [logging.INFO, logging.CRITICAL])
def test_gunicorn_access_atoms_are_built_only_for_a_line_that_prints(
    monkeypatch, level
):
    """Off (the gateway's default): no atoms per request; on: gunicorn's own line."""
    config = Config()
    for key, value in gunicorn_options(GatewayConfig()).items():
        config.set(key, value)
    logger = config.logger_class(config)
    built = []
    monkeypatch.setattr(logger, "atoms", lambda *args: built.append(args) or {})
    monkeypatch.setattr(logger.access_log, "level", level)
    logger.access(None, None, {}, None)
    assert len(built) == (1 if level == logging.INFO else 0)


class DefaultingAtoms(dict):
    """Like gunicorn's ``SafeAtoms``: a missing key reads as ``-``."""

    def __getitem__(self, key):
        return super().__getitem__(key) if key in self else "-"


def test_log_mapping_args_keep_their_lookup_rules(captured):
    logger, stream = captured
    logger.warning('%(h)s %(u)s "%(U)s"', DefaultingAtoms(h="1.2.3.4", U="/x\r\ny"))
    logger.warning("%(U)s %(u)s", DefaultingAtoms(U="p" * 5000))
    first, second = stream.getvalue().splitlines()
    assert first == 'WARNING 1.2.3.4 - "/x\\r\\ny"'
    assert second.endswith(" -") and "more characters" in second
