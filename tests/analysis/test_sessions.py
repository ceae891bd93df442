"""Per-server session shares by where each session's state first lived."""

from __future__ import annotations

import pandas as pd
import pytest

from lbsim.analysis.sessions import session_share


def test_share_counts_each_session_once_at_its_first_ok_server() -> None:
    # session 0: fails on a, then ok on b (home b), later ok on a (moved: still b's);
    # session 1: ok on a; session 2: ok on b. Homes: a 1, b 2 of 3 sessions.
    requests = pd.DataFrame(
        {
            "variant": ["v"] * 5,
            "session": [0, 0, 0, 1, 2],
            "arrival": [0.0, 1.0, 2.0, 0.5, 0.7],
            "server": pd.Categorical(["a", "b", "a", "a", "b"], categories=["a", "b", "c"]),
            "status": ["conn_error", "ok", "ok", "ok", "ok"],
        }
    )
    shares = session_share(requests).set_index("server")
    assert shares["sessions"].to_dict() == {"a": 1, "b": 2, "c": 0}
    assert shares["share"].to_dict() == pytest.approx({"a": 1 / 3, "b": 2 / 3, "c": 0.0})


def test_share_needs_sessions() -> None:
    with pytest.raises(ValueError, match=r"clients\.sessions"):
        session_share(pd.DataFrame({"variant": [], "status": []}))
