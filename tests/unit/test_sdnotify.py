"""The notify protocol against a real AF_UNIX datagram socket bound in tmp_path."""

import os
import socket

from syncd.daemon import sdnotify


def test_notify_sends_one_datagram(tmp_path, monkeypatch):
    """All fields arrive in one datagram, newline-separated."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert sdnotify.notify("READY=1", "STATUS=watching 2 folders")
        assert server.recv(4096) == b"READY=1\nSTATUS=watching 2 folders"
        assert sdnotify.reloading()
        msg = server.recv(4096).decode()
        assert msg.startswith("RELOADING=1\nMONOTONIC_USEC=")


def test_notify_without_socket_is_a_no_op(monkeypatch):
    """Outside systemd nothing is sent and False is returned."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch):
    """WATCHDOG=1 is due every half of $WATCHDOG_USEC, for our pid only."""
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 2.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert sdnotify.watchdog_interval() is None
