"""Keyspace notifications as a test sees them: a subscriber to every notification channel of one
server, and the events each of a list of commands raised (shared by the notification tests)."""
from helpers import RespConnection

MARKER_CHANNEL = b"__notification_test_marker__"


class NotificationStream:
    """A subscriber to every notification channel and to the marker channel of one server."""

    def __init__(self, port):
        self.conn = RespConnection(port)
        self.conn.call(b"PSUBSCRIBE", b"__key*__:*")
        self.conn.call(b"SUBSCRIBE", MARKER_CHANNEL)
        self.markers = 0

    def until_marker(self):
        """The notifications received before the next marker: (channel, payload) pairs."""
        messages = []
        while True:
            kind, *rest = self.conn.read_reply().py()
            if kind == b"message":
                self.markers += 1
                assert rest == [MARKER_CHANNEL, str(self.markers).encode()]
                return messages
            assert kind == b"pmessage", (kind, rest)
            channel, payload = rest[1], rest[2]
            if b"expired" in (payload, channel.rsplit(b":", 1)[-1]):
                continue
            messages.append((channel, payload))

    def close(self):
        self.conn.close()


def raised(server, classes, setup, commands):
    """The events each of `commands` raises with notify-keyspace-events `classes`, after `setup`
    ran with notifications off: one list of (event, key) per command."""
    with RespConnection(server.port) as conn:
        for command in setup:
            assert not conn.call(*command).is_error, command
        assert conn.call("CONFIG", "SET", "notify-keyspace-events", classes).kind == "+"
        stream = NotificationStream(server.port)
        try:
            per_command = []
            for i, command in enumerate(commands):
                conn.call(*command)
                conn.call("PUBLISH", MARKER_CHANNEL, str(i + 1))
                per_command.append([event_and_key(channel, payload) for channel, payload in stream.until_marker()])
            return per_command
        finally:
            stream.close()


def event_and_key(channel, payload):
    """(event, key) from a keyevent message (its channel names the event) or a keyspace one
    (its channel names the key)."""
    prefix, name = channel.split(b":", 1)
    if prefix.startswith(b"__keyevent@"):
        return name.decode(), payload.decode()
    return payload.decode(), name.decode()
