"""The embedded broker (`filesystem://`): kombu's filesystem transport, each message written whole before any
worker can take it.

kombu's own transport opens a message's file under its final name (`<ms>_<uuid>.<queue>.msg`) and then writes it:
a worker polling the same folder can take the file while it is still empty, and Celery stops on the decode error
("Unrecoverable error: JSONDecodeError"), the message lost with it. Here a message is written under a name no
queue reads (`.incoming-<uuid>`: kombu takes only names whose part after the first dot is `<queue>.msg`) and then
renamed into place with os.replace, atomic within the folder: a worker sees a whole message or none.

The same goes for an exchange's table of bound queues (`<exchange>.exchange` in the control folder): kombu creates
it by truncating it before its lock is taken, so a producer reading it at that moment fails to decode it (or routes
the message nowhere). Here binding a queue takes an exclusive lock on a lock file of its own, writes the new table
under a staging name and renames it into place: a reader sees the old table or the new one, never an empty file.
And a message is routed to the queues on file and to those this process has bound (kombu keeps the bindings of all
its connections in one state per process: a thread whose queue another thread declared publishes at once, before
the table may be on file, and kombu dropped that message without a word).
console.celery makes `filesystem://` mean this transport.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

ALIAS = "console.broker_files:Transport"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written under a name no queue reads, then renamed to the queue's name."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        staging = os.path.join(self.data_folder_out, f".incoming-{uuid.uuid4().hex}")
        try:
            with open(staging, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(staging, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(staging)
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc


    def get_table(self, exchange):
        """The queues bound to `exchange`: on file (every process's), and those bound in this process."""
        on_file = super().get_table(exchange)
        here = self.state.exchanges.get(exchange, {}).get("table", [])
        return on_file + [queue for queue in (filesystem.exchange_queue_t(*row) for row in here)
                          if queue not in on_file]

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """Add (routing key, pattern, queue) to the exchange's table: under a lock file, replaced whole."""
        table = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        bound = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with open(f"{table}.lock", "ab") as guard:
                filesystem.lock(guard, filesystem.LOCK_EX)
                try:
                    queues = [filesystem.exchange_queue_t(*q)
                              for q in loads(bytes_to_str(table.read_bytes()))] if table.exists() else []
                    if bound in queues:
                        return
                    staging = self.control_folder / f".incoming-{uuid.uuid4().hex}"
                    staging.write_bytes(str_to_bytes(dumps([bound, *queues])))
                    os.replace(staging, table)
                finally:
                    filesystem.unlock(guard)
        except OSError as exc:
            raise ChannelError(f"Cannot bind {queue!r} to {table}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
