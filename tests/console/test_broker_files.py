"""The embedded broker (`filesystem://`) hands a worker whole messages only: published by producers that each
declare their queue (binding it in the exchange's table) while a consumer polls the same folder, every message
arrives, once, intact. kombu's own filesystem transport let the consumer take a file before it was written (Celery
stopped on the decode error) and let a producer read the exchange's table while another truncated it."""
import threading

from kombu import Connection

import console.celery  # noqa: F401 (makes `filesystem://` the console's transport)
from console.broker_files import Transport

PER_PRODUCER, PRODUCERS = 300, 3


def test_every_message_published_while_a_consumer_polls_arrives_whole_and_once(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False,
               "control_folder": str(tmp_path / "control")}

    def produce(n: int) -> None:
        with Connection("filesystem://", transport_options=options) as connection:
            queue = connection.SimpleQueue("jobs")
            for i in range(PER_PRODUCER):
                queue.put({"producer": n, "i": i, "padding": "x" * 4000})
            queue.close()

    received, errors = [], []
    with Connection("filesystem://", transport_options=options) as connection:
        assert isinstance(connection.transport, Transport)
        producers = [threading.Thread(target=produce, args=(n,)) for n in range(PRODUCERS)]
        for thread in producers:
            thread.start()
        queue = connection.SimpleQueue("jobs")
        while len(received) + len(errors) < PER_PRODUCER * PRODUCERS:
            try:
                message = queue.get(block=True, timeout=30)
            except queue.Empty:
                break
            except Exception as exc:  # noqa: BLE001 (kombu's transport raised on a half-written file)
                errors.append(exc)
                continue
            received.append((message.payload["producer"], message.payload["i"]))
            message.ack()
        for thread in producers:
            thread.join()
    assert errors == []
    assert sorted(received) == [(n, i) for n in range(PRODUCERS) for i in range(PER_PRODUCER)]
    assert not list(folder.iterdir())  # nothing left behind, no staging file either
