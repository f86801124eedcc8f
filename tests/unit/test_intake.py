"""``Intake``: when a request's bytes are whole, fed in any split."""

from __future__ import annotations

import pytest

from antigravity_proxy.intake import MAX_CHUNK_LINE, MAX_HEAD, Intake, Phase

LIMIT = 100
POST = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"

# (name, request bytes, bytes after which it is whole (None: only at the end))
WHOLE = [
    ("get", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", None),
    ("leading empty lines", b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", None),
    ("bare LF head", b"GET / HTTP/1.1\nHost: x\n\n", None),
    ("sized body", POST + b"Content-Length: 5\r\n\r\nhello", None),
    ("empty sized body", POST + b"Content-Length: 0\r\n\r\n", None),
    ("body at the limit", POST + b"Content-Length: 100\r\n\r\n" + b"x" * 100, None),
    ("chunked", CHUNKED + b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", None),
    ("chunked trailers", CHUNKED + b"2\r\nhi\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n", None),
    ("chunked at the limit", CHUNKED + b"64\r\n" + b"x" * 100 + b"\r\n0\r\n\r\n", None),
]

# (name, request bytes, length of the prefix that already makes it ready)
EARLY = [
    ("declared over the limit", POST + b"Content-Length: 101\r\n\r\n", 0),
    ("length not a number", POST + b"Content-Length: 5x\r\n\r\n", 0),
    ("two lengths", POST + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\n", 0),
    ("chunked and sized", CHUNKED[:-2] + b"Content-Length: 3\r\n\r\n", 0),
    ("other coding", POST + b"Transfer-Encoding: gzip\r\n\r\n", 0),
    ("chunked past the limit", CHUNKED + b"65\r\n", 0),
    ("chunk size not hex", CHUNKED + b"zz\r\n", 0),
    ("chunk size too long", CHUNKED + b"1" * 17 + b"\r\n", 0),
]


def feed_split(data: bytes, step: int) -> tuple[Intake, list[Phase]]:
    intake = Intake(LIMIT)
    phases = [intake.feed(data[i : i + step]) for i in range(0, len(data), step)]
    return intake, phases


@pytest.mark.parametrize("step", [1, 3, 7, 10_000])
@pytest.mark.parametrize(("name", "data", "_"), WHOLE, ids=[c[0] for c in WHOLE])
def test_whole_only_with_its_last_byte(name, data, _, step):
    intake, phases = feed_split(data, step)
    assert phases[-1] is Phase.READY
    assert all(p is not Phase.READY for p in phases[:-1])
    assert b"".join(intake.pieces) == data


@pytest.mark.parametrize("step", [1, 5, 10_000])
@pytest.mark.parametrize(("name", "data", "_"), EARLY, ids=[c[0] for c in EARLY])
def test_nothing_to_wait_for_is_ready_at_once(name, data, _, step):
    intake, phases = feed_split(data, step)
    assert phases[-1] is Phase.READY
    assert b"".join(intake.pieces) == data


def test_pipelined_requests_stay_in_the_pieces():
    two = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    intake = Intake(LIMIT)
    assert intake.feed(two) is Phase.READY
    assert b"".join(intake.pieces) == two


def test_a_huge_head_is_handed_on_unfinished():
    intake = Intake(LIMIT)
    line = b"GET / HTTP/1.1\r\nX: "
    assert intake.feed(line + b"a" * (MAX_HEAD - len(line))) is Phase.HEAD
    assert intake.feed(b"a") is Phase.READY
    assert len(b"".join(intake.pieces)) == MAX_HEAD + 1


def test_a_head_a_byte_at_a_time_costs_linear_time():
    """Each byte must not rescan the head: 60 KB byte by byte stays fast."""
    intake = Intake(LIMIT)
    head = b"\r\n" * 15_000 + b"GET / HTTP/1.1\r\nX: " + b"a" * 30_000 + b"\r\n\r\n"
    phases = [intake.feed(head[i : i + 1]) for i in range(len(head))]
    assert phases[-1] is Phase.READY
    assert phases.count(Phase.READY) == 1


def test_a_chunk_line_without_end_is_handed_on():
    intake = Intake(LIMIT)
    assert intake.feed(CHUNKED + b"1;" + b"e" * (MAX_CHUNK_LINE - 10)) is Phase.BODY
    assert intake.feed(b"e" * 20) is Phase.READY


@pytest.mark.parametrize(
    ("head", "wanted"),
    [
        (POST + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", True),
        (POST + b"Content-Length: 5\r\nexpect: 100-Continue\r\n\r\n", True),
        (CHUNKED[:-2] + b"Expect: 100-continue\r\n\r\n", True),
        (POST + b"Content-Length: 0\r\nExpect: 100-continue\r\n\r\n", False),
        (POST + b"Content-Length: 500\r\nExpect: 100-continue\r\n\r\n", False),
        (
            POST.replace(b"1.1", b"1.0")
            + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            False,
        ),
        (POST + b"Content-Length: 5\r\n\r\n", False),
    ],
)
def test_continue_is_wanted_only_for_a_body_worth_waiting_for(head, wanted):
    intake = Intake(LIMIT)
    intake.feed(head)
    assert intake.wants_continue is wanted


def test_a_body_trickled_in_tiny_reads_is_kept_in_few_pieces():
    body = b"x" * 200_000
    intake = Intake(len(body))
    intake.feed(POST + b"Content-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 7):
        intake.feed(body[i : i + 7])
    pieces = intake.pieces
    assert b"".join(pieces) == POST + b"Content-Length: 200000\r\n\r\n" + body
    assert len(pieces) <= 5
