"""atheris harness for frame decoding: `python -m tests.security.fuzz_frames -max_total_time=20`.

Feeds arbitrary bytes, as binary and as text frames, to the sans-I/O handler and the frame
parser. The only acceptable outcomes are a parsed frame or a protocol error frame; anything
else (an exception escaping, a reply that isn't JSON) is a crash atheris reports.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import orjson

    from mizan_channels import protocol
    from mizan_channels.session import Limits, Reject, Session

CODES = {"bad_frame", "too_large", "rate_limited"}


def check(data: bytes) -> None:
    session = Session(Limits(max_frame_bytes=4096, rate=10**9, abuse_strikes=10**9))
    text = data.decode("utf-8", "surrogateescape")
    for frame, binary in ((data, True), (text, False), (data, False)):
        got = session.receive(frame, binary=binary)
        if isinstance(got, Reject):
            reply = orjson.loads(got.frame)
            assert reply["t"] == "err" and reply["error"]["code"] in CODES, reply
        else:
            session.done(got)
    try:
        protocol.parse_frame(data)
    except protocol.FrameError as exc:
        assert exc.code == "bad_frame"


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
